import CFabricABI
import FabricBPF
import FabricCompiler
import FabricFixtures
import FabricHost
import FabricPolicy
import Foundation

/// Per-packet cost of each entry point through BPF_PROG_TEST_RUN, minus the
/// empty program of the same hook, over 4096 distinct frames (so lookups do
/// not keep hitting one cached key), IPv4 and IPv6, at several prefix counts.
/// Each frame runs once on the program and once on the empty one, interleaved,
/// so drift on a shared VM hits both sides alike. Prints a Markdown table.
///
/// Always repeat = 1: with repeat > 1 an XDP test run installs the program in
/// the XDP dispatcher and waits for an RCU grace period before and after
/// (bpf_prog_change_xdp, kernel 6.18), milliseconds per call.
enum KernelBench {
    static func run(host: HostInventory, sizes: [Int], passes: Int) throws {
        let empty = try BPFObject(bytes: EmbeddedObject.empty, name: "fg_empty")
        try empty.load()
        let emptyTC = try empty.program("fg_empty_tc")
        let emptyXDP = try empty.program("fg_empty_xdp")
        guard let sana0 = host.interface(named: "sana0") else { fail("no sana0 in this namespace") }

        print("| prefixes per family | family | tc egress ns | xdp ingress ns | tc ingress ns | empty tc / xdp ns |")
        print("|---:|---|---:|---:|---:|---:|")
        for size in sizes {
            let world = try BenchWorld(prefixes: size, seed: 0xbe4c + UInt64(size), host: host)
            let object = try BPFObject()
            try object.load()
            try install(world.plan, bank: 0, into: object)
            let egress = try object.program(FG_PROG_TC_EGRESS)
            let xdp = try object.program(FG_PROG_XDP_INGRESS)
            let ingress = try object.program(FG_PROG_TC_INGRESS)
            for family in [IPAddress.Family.ipv4, .ipv6] {
                let frames = world.frames(family)
                let tcEgress = try cost(egress, baseline: emptyTC, frames: frames, ifindex: sana0.index, xdp: false, passes: passes)
                let xdpIngress = try cost(xdp, baseline: emptyXDP, frames: frames, ifindex: sana0.index, xdp: true, passes: passes)
                let tcIngress = try cost(ingress, baseline: emptyTC, frames: frames, ifindex: sana0.index, xdp: false, passes: passes)
                let row = [
                    "\(size)", family == .ipv4 ? "IPv4" : "IPv6", format(tcEgress.delta), format(xdpIngress.delta),
                    format(tcIngress.delta), "\(format(tcEgress.baseline)) / \(format(xdpIngress.baseline))",
                ]
                print("| " + row.joined(separator: " | ") + " |")
            }
        }
    }

    /// Mean ns per packet of `program` minus `baseline`, and the baseline itself.
    static func cost(
        _ program: BPFProgram, baseline: BPFProgram, frames: [[UInt8]], ifindex: UInt32, xdp: Bool, passes: Int
    ) throws -> (delta: Double, baseline: Double) {
        var programTotal: UInt64 = 0
        var baselineTotal: UInt64 = 0
        for _ in 0..<passes {
            for frame in frames {
                baselineTotal += UInt64(try baseline.testRun(frame: frame, ifindex: ifindex, xdp: xdp).durationNanoseconds)
                programTotal += UInt64(try program.testRun(frame: frame, ifindex: ifindex, xdp: xdp).durationNanoseconds)
            }
        }
        let runs = Double(passes * frames.count)
        return ((Double(programTotal) - Double(baselineTotal)) / runs, Double(baselineTotal) / runs)
    }

    static func format(_ value: Double) -> String { String(format: "%.1f", value) }
}
