import FabricBPF
import Foundation

/// Another tool's programs on the tcx hooks, for the coexistence tests (the
/// system's bpftool 7.1 and tc 6.1 predate tcx). Run in the namespace with
/// `nsenter --net`, which keeps /sys/fs/bpf (the link is pinned there).
///
///   fabricguard-selftest --tcx-attach IFNAME egress|ingress OBJECT PIN [first|last]
///       attaches OBJECT's first program as a tcx link pinned at PIN;
///       prints {"program_id": N, "link_id": N}
///   fabricguard-selftest --tcx-list IFNAME egress|ingress
///       prints {"programs": [{"id": N, "name": S, "link_id": N}], "revision": N}, in run order
enum TCXNeighbour {
    static func main(_ arguments: [String]) -> Never {
        guard arguments.count >= 4, let egress = ["egress": true, "ingress": false][arguments[3]] else { usage() }
        let ifindex = if_nametoindex(arguments[2])
        guard ifindex != 0 else { fail("no interface \(arguments[2]) in this network namespace") }
        do {
            switch arguments[1] {
            case "--tcx-attach":
                guard arguments.count >= 6 else { usage() }
                let bytes = try Data(contentsOf: URL(fileURLWithPath: arguments[4]))
                let object = try BPFObject(bytes: Array(bytes), name: "neighbour")
                try object.load()
                guard let name = object.programNames.first else { fail("\(arguments[4]) has no program") }
                let program = try object.program(name)
                let last = arguments.count > 6 && arguments[6] == "last"
                try PinnedLink.attachTCX(program, ifindex: ifindex, egress: egress, last: last, pinAt: arguments[5])
                guard let link = try PinnedLink.open(arguments[5]) else { fail("the link pin \(arguments[5]) is gone") }
                print(#"{"program_id": \#(link.programID), "link_id": \#(link.id)}"#)
            case "--tcx-list":
                let listed = try TCX.programs(ifindex: ifindex, egress: egress)
                let programs = zip(listed.programIDs, listed.linkIDs).map { id, link in
                    #"{"id": \#(id), "name": "\#(BPFProgram.name(id: id) ?? "")", "link_id": \#(link)}"#
                }
                print(#"{"programs": [\#(programs.joined(separator: ", "))], "revision": \#(listed.revision)}"#)
            default:
                usage()
            }
        } catch {
            fail("\(error)")
        }
        exit(0)
    }

    static func usage() -> Never {
        FileHandle.standardError.write(Data(
            "usage: fabricguard-selftest --tcx-attach IFNAME egress|ingress OBJECT PIN [first|last] | --tcx-list IFNAME egress|ingress\n".utf8))
        exit(2)
    }
}
