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

/// Small captures written byte by byte (classic pcap, little-endian; pcapng).
public enum CaptureBytes {
    static func le32(_ value: UInt32) -> [UInt8] { withUnsafeBytes(of: value.littleEndian) { Array($0) } }
    static func le16(_ value: UInt16) -> [UInt8] { withUnsafeBytes(of: value.littleEndian) { Array($0) } }

    public static func pcap(linkType: UInt32, frames: [[UInt8]]) -> [UInt8] {
        var bytes = le32(0xa1b2_c3d4) + le16(2) + le16(4) + le32(0) + le32(0) + le32(262_144) + le32(linkType)
        for (index, frame) in frames.enumerated() {
            let length = UInt32(frame.count)
            bytes += le32(1_700_000_000 + UInt32(index)) + le32(0) + le32(length) + le32(length) + frame
        }
        return bytes
    }

    public static func pcapng(name: String, frames: [[UInt8]]) -> [UInt8] {
        func block(_ type: UInt32, _ body: [UInt8]) -> [UInt8] {
            let padded = body + [UInt8](repeating: 0, count: (4 - body.count % 4) % 4)
            let length = UInt32(12 + padded.count)
            return le32(type) + le32(length) + padded + le32(length)
        }
        let nameBytes = Array(name.utf8)
        let option = le16(2) + le16(UInt16(nameBytes.count)) + nameBytes + [UInt8](repeating: 0, count: (4 - nameBytes.count % 4) % 4)
        var bytes = block(0x0a0d_0d0a, le32(0x1a2b_3c4d) + le16(1) + le16(0) + [UInt8](repeating: 0xff, count: 8))
        bytes += block(1, le16(1) + le16(0) + le32(262_144) + option + le32(0))
        for frame in frames {
            bytes += block(6, le32(0) + le32(0) + le32(0) + le32(UInt32(frame.count)) + le32(UInt32(frame.count)) + frame)
        }
        return bytes
    }

    /// Linux cooked v2: protocol, reserved, ifindex, hatype, pkttype, halen, address(8), payload.
    public static func cooked2(_ ethernet: [UInt8], ifindex: UInt32, outgoing: Bool) -> [UInt8] {
        var header = Array(ethernet[12..<14]) + [0, 0]
        header += withUnsafeBytes(of: ifindex.bigEndian) { Array($0) }
        header += [0, 1, outgoing ? 4 : 0, 6] + Array(ethernet[6..<12]) + [0, 0]
        return header + ethernet[14...]
    }

    /// Linux cooked v1: pkttype, hatype, halen, address(8), protocol, payload.
    public static func cooked1(_ ethernet: [UInt8], outgoing: Bool) -> [UInt8] {
        [0, outgoing ? 4 : 0, 0, 1, 0, 6] + Array(ethernet[6..<12]) + [0, 0] + Array(ethernet[12..<14]) + ethernet[14...]
    }
}
