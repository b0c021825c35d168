import FabricCapture
import FabricCompiler
import FabricFixtures
import FabricPolicy
import FabricReference
import Foundation
import Testing

/// Writes small captures byte by byte, so each test controls exactly what libpcap reads.
enum CaptureFile {
    static func le32(_ value: UInt32) -> [UInt8] { withUnsafeBytes(of: value.littleEndian) { Array($0) } }
    static func le16(_ value: UInt16) -> [UInt8] { withUnsafeBytes(of: value.littleEndian) { Array($0) } }

    /// Classic pcap: global header, then (timestamp, lengths, bytes) records.
    static func pcap(linkType: UInt32, frames: [[UInt8]], claimedLength: Int? = nil) -> [UInt8] {
        var bytes = le32(0xa1b2_c3d4) + le16(2) + le16(4) + le32(0) + le32(0) + le32(262_144) + le32(linkType)
        for (index, frame) in frames.enumerated() {
            let length = UInt32(claimedLength ?? frame.count)
            bytes += le32(1_700_000_000 + UInt32(index)) + le32(0) + le32(length) + le32(length) + frame
        }
        return bytes
    }

    /// pcapng: section header, one Ethernet interface named `name`, enhanced packet blocks.
    static func pcapng(name: String, frames: [[UInt8]]) -> [UInt8] {
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

    /// Linux cooked v2 header for an L3 payload (EtherType + payload of an Ethernet frame).
    static func cooked2(_ ethernet: [UInt8], ifindex: UInt32, outgoing: Bool) -> [UInt8] {
        var header = Array(ethernet[12..<14]) + [0, 0]
        header += withUnsafeBytes(of: ifindex.bigEndian) { Array($0) }
        header += [0, 1, outgoing ? 4 : 0, 6] + Array(ethernet[6..<12]) + [0, 0]
        return header + ethernet[14...]
    }

    static func write(_ bytes: [UInt8], _ name: String) throws -> String {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("fg-capture-\(getpid())-\(name)").path
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        return path
    }
}

@Suite("Captures through libpcap")
struct CaptureReaderTests {
    static let foreign = FrameBuilder.udp4(source: IPAddress("10.2.0.10")!, destination: IPAddress("10.1.0.1")!)
    static let own = FrameBuilder.udp4(source: IPAddress("10.1.0.10")!, destination: IPAddress("10.1.0.1")!)

    func readAll(_ path: String) throws -> [CapturedFrame] {
        let reader = try CaptureReader(path: path)
        var frames: [CapturedFrame] = []
        while let frame = try reader.next() { frames.append(frame) }
        return frames
    }

    @Test func ethernetFramesAreReadAsTheyAre() throws {
        let path = try CaptureFile.write(CaptureFile.pcap(linkType: 1, frames: [Self.own, Self.foreign]), "eth.pcap")
        let frames = try readAll(path)
        #expect(frames.map(\.frame) == [Self.own, Self.foreign])
        #expect(frames.map(\.number) == [1, 2])
        #expect(frames.allSatisfy { $0.interfaceIndex == nil && $0.direction == nil })
        #expect(frames[1].seconds == 1_700_000_001)
    }

    @Test func cookedV2CarriesInterfaceAndDirection() throws {
        let path = try CaptureFile.write(
            CaptureFile.pcap(linkType: 276, frames: [CaptureFile.cooked2(Self.foreign, ifindex: 3, outgoing: true),
                                                    CaptureFile.cooked2(Self.own, ifindex: 5, outgoing: false)]), "sll2.pcap")
        let frames = try readAll(path)
        #expect(frames.map(\.interfaceIndex) == [3, 5])
        #expect(frames.map(\.direction) == [.egress, .ingress])
        // The rebuilt Ethernet frame keeps source MAC, EtherType and payload; the wire length counts 14 header bytes.
        #expect(Array(frames[0].frame[6...]) == Array(Self.foreign[6...]))
        #expect(frames[0].wireLength == Self.foreign.count)
    }

    @Test func pcapngIsRead() throws {
        let path = try CaptureFile.write(CaptureFile.pcapng(name: "sana0", frames: [Self.own, Self.foreign, Self.own]), "eth.pcapng")
        #expect(try readAll(path).map(\.frame) == [Self.own, Self.foreign, Self.own])
    }

    @Test func unsupportedLinkType() throws {
        let path = try CaptureFile.write(CaptureFile.pcap(linkType: 101, frames: [Array(Self.own[14...])]), "raw.pcap")
        #expect(throws: CaptureError.self) { try CaptureReader(path: path) }
        do {
            _ = try CaptureReader(path: path)
        } catch {
            #expect(error.message.contains("link type RAW is not supported"), "\(error)")
        }
    }

    @Test func aTruncatedCaptureNamesTheFrame() throws {
        var bytes = CaptureFile.pcap(linkType: 1, frames: [Self.own, Self.own, Self.foreign])
        bytes.removeLast(20)
        let path = try CaptureFile.write(bytes, "cut.pcap")
        let reader = try CaptureReader(path: path)
        _ = try reader.next()
        _ = try reader.next()
        do {
            _ = try reader.next()
            Issue.record("a truncated frame was read")
        } catch {
            #expect(error.message.contains("frame 3:"), "\(error)")
            #expect(error.message.contains("(2 frames read before it)"), "\(error)")
        }
    }

    @Test func emptyAndCorruptFiles() throws {
        for (name, bytes) in [("empty.pcap", [UInt8]()), ("garbage.pcap", Array("not a capture at all, sorry".utf8))] {
            let path = try CaptureFile.write(bytes, name)
            do {
                _ = try CaptureReader(path: path)
                Issue.record("\(name) was opened")
            } catch {
                #expect(error.message.hasPrefix("read capture \(path): "), "\(error)")
            }
        }
        #expect(throws: CaptureError.self) { try CaptureReader(path: "/nonexistent/x.pcap") }
    }
}

@Suite("Dry-run engine")
struct DryRunTests {
    @Test func countsLikeTheKernelAndListsOffendingFlows() throws {
        let plan = try PolicyCompiler.compile(FixtureWorld.policy(), host: FixtureWorld.host).plan
        let names = Dictionary(uniqueKeysWithValues: FixtureWorld.host.interfaces.map { ($0.index, $0.name) })
        var dryRun = DryRun(datapath: ReferenceDatapath(plan: plan), interfaceNames: names)
        let foreign = CaptureReaderTests.foreign
        for second in 0..<3 {
            dryRun.judge(frame: foreign, wireLength: foreign.count, ifindex: 3, direction: .egress, time: .init(seconds: second, microseconds: 0))
        }
        dryRun.judge(frame: CaptureReaderTests.own, wireLength: 60, ifindex: 3, direction: .egress, time: .init(seconds: 9, microseconds: 0))
        dryRun.judge(frame: foreign, wireLength: 60, ifindex: 42, direction: .egress, time: .init(seconds: 9, microseconds: 0))
        dryRun.judge(frame: foreign, wireLength: 60, ifindex: nil, direction: .egress, time: .init(seconds: 9, microseconds: 0))
        let report = dryRun.report(capture: "x.pcap", linkType: "EN10MB", top: 5)
        #expect(report.frames == 6 && report.packets == 4)
        #expect(report.unattributed.frames == 2 && report.unattributed.ifindexes == [42])
        #expect(report.verdicts["drop"] == 3 && report.verdicts["pass"] == 1)
        #expect(report.counters == [
            CounterReport.Row(interface: "sana0", direction: .egress, reason: .ok, action: .pass, packets: 1, bytes: 60),
            CounterReport.Row(interface: "sana0", direction: .egress, reason: .foreignSource, action: .drop, packets: 3, bytes: UInt64(3 * foreign.count)),
        ])
        let flow = try #require(report.topFlows.first)
        #expect(flow.source == "10.2.0.10" && flow.destination == "10.1.0.1" && flow.packets == 3)
        #expect(flow.first.seconds == 0 && flow.last.seconds == 2)
        #expect(dryRun.violations == 3)
    }
}
