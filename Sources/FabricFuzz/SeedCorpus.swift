// The seed corpora of Fuzz/corpus/<target>/, generated rather than hand-made:
//   FABRICGUARD_WRITE_SEEDS=1 swift test --filter FabricFuzzTests
// rewrites them (Tests/FabricFuzzTests/SeedTests.swift) from the fixture table,
// the fixture policy and host, and the examples/ of the repository.

import FabricCapture
import FabricFixtures
import FabricHost
import Foundation

public enum SeedCorpus {
    public static let targets = ["frame", "policy", "host", "capture"]

    /// The harness of each target.
    public static func harness(_ target: String) -> ((UnsafeRawBufferPointer) -> Void)? {
        switch target {
        case "frame": FuzzHarness.frame
        case "policy": FuzzHarness.policy
        case "host": FuzzHarness.host
        case "capture": FuzzHarness.capture
        default: nil
        }
    }

    /// Every seed, by target: file name -> bytes. `repository` is where examples/ is.
    public static func seeds(repository: URL) throws -> [String: [(name: String, bytes: [UInt8])]] {
        func example(_ path: String) throws -> [UInt8] {
            Array(try Data(contentsOf: repository.appendingPathComponent("examples").appendingPathComponent(path)))
        }
        // frame: every fixture, encoded with the byte that says where it is seen.
        var frames: [(String, [UInt8])] = []
        for (number, fixture) in Fixtures.all.enumerated() {
            let input = FuzzFrame(interface: fixture.interface, direction: fixture.direction, frame: fixture.frame)
            frames.append((String(format: "fixture-%03d", number), input.encoded))
        }
        // policy: the fixture policy and the examples.
        let policies: [(String, [UInt8])] = [
            ("fixture-policy.yaml", Array(FixtureWorld.policyYAML.utf8)),
            ("two-fabrics.yaml", try example("two-fabrics.yaml")),
            ("fleet-template.yaml", try example("fleet/policy.yaml.template")),
        ]
        // host: the fixture host as `inventory --json` writes it, and the examples.
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        var hosts: [(String, [UInt8])] = [("fixture-host.json", Array(try encoder.encode(FixtureWorld.host)))]
        hosts.append(("initiator-host.json", try example("initiator-host.json")))
        for name in ["array-1.json", "initiator-1.json"] { hosts.append((name, try example("fleet/hosts/\(name)"))) }
        // capture: a few fixture frames in each link type and format the reader takes.
        let sample = Fixtures.all.enumerated().filter { $0.offset % 9 == 0 && $0.element.frame.count >= 14 }.map(\.element)
        let ethernet = sample.map(\.frame)
        var captures: [(String, [UInt8])] = [
            ("ethernet.pcap", CaptureBytes.pcap(linkType: 1, frames: ethernet)),
            ("ethernet.pcapng", CaptureBytes.pcapng(name: "sana0", frames: ethernet)),
            ("sll2.pcap", CaptureBytes.pcap(linkType: 276, frames: sample.map {
                CaptureBytes.cooked2($0.frame, ifindex: $0.ifindex, outgoing: $0.direction == .egress) })),
            ("sll.pcap", CaptureBytes.pcap(linkType: 113, frames: sample.map {
                CaptureBytes.cooked1($0.frame, outgoing: $0.direction == .egress) })),
        ]
        // Raw IP link types carry the frame without its Ethernet header (14 bytes, or 18 with a tag).
        let ip = ethernet.compactMap { frame -> (version: UInt8, packet: [UInt8])? in
            let offset = frame.count > 18 && frame[12] == 0x81 && frame[13] == 0x00 ? 18 : 14
            guard frame.count > offset else { return nil }
            return (frame[offset] >> 4, Array(frame[offset...]))
        }
        captures.append(("raw.pcap", CaptureBytes.pcap(linkType: 101, frames: ip.map(\.packet))))
        captures.append(("ipv4.pcap", CaptureBytes.pcap(linkType: 228, frames: ip.filter { $0.version == 4 }.map(\.packet))))
        captures.append(("ipv6.pcap", CaptureBytes.pcap(linkType: 229, frames: ip.filter { $0.version == 6 }.map(\.packet))))
        let whole = CaptureBytes.pcap(linkType: 1, frames: Array(ethernet.prefix(3)))
        captures.append(("cut.pcap", Array(whole.dropLast(7))))
        return ["frame": frames, "policy": policies, "host": hosts, "capture": captures]
    }
}
