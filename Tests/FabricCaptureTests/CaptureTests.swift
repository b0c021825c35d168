import FabricABI
import FabricCapture
import FabricCompiler
import FabricFixtures
import FabricPolicy
@testable import FabricReference
import Foundation
import Testing

/// Capture bytes (FabricFixtures.CaptureBytes) as a temporary file.
enum CaptureFile {
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
        let path = try CaptureFile.write(CaptureBytes.pcap(linkType: 1, frames: [Self.own, Self.foreign]), "eth.pcap")
        let frames = try readAll(path)
        #expect(frames.map(\.frame) == [Self.own, Self.foreign])
        #expect(frames.map(\.number) == [1, 2])
        #expect(frames.allSatisfy { $0.interfaceIndex == nil && $0.direction == nil })
        #expect(frames[1].seconds == 1_700_000_001)
    }

    @Test func cookedV2CarriesInterfaceAndDirection() throws {
        let path = try CaptureFile.write(
            CaptureBytes.pcap(linkType: 276, frames: [CaptureBytes.cooked2(Self.foreign, ifindex: 3, outgoing: true),
                                                    CaptureBytes.cooked2(Self.own, ifindex: 5, outgoing: false)]), "sll2.pcap")
        let frames = try readAll(path)
        #expect(frames.map(\.interfaceIndex) == [3, 5])
        #expect(frames.map(\.direction) == [.egress, .ingress])
        // The rebuilt Ethernet frame keeps source MAC, EtherType and payload; the wire length counts 14 header bytes.
        #expect(Array(frames[0].frame[6...]) == Array(Self.foreign[6...]))
        #expect(frames[0].wireLength == Self.foreign.count)
    }

    @Test func pcapngIsRead() throws {
        let path = try CaptureFile.write(CaptureBytes.pcapng(name: "sana0", frames: [Self.own, Self.foreign, Self.own]), "eth.pcapng")
        #expect(try readAll(path).map(\.frame) == [Self.own, Self.foreign, Self.own])
    }

    @Test func unsupportedLinkType() throws {
        // 105: IEEE 802.11, what a Wi-Fi monitor capture writes.
        let path = try CaptureFile.write(CaptureBytes.pcap(linkType: 105, frames: [Self.own]), "wifi.pcap")
        #expect(throws: CaptureError.self) { try CaptureReader(path: path) }
        do {
            _ = try CaptureReader(path: path)
        } catch {
            #expect(error.message.contains("link type IEEE802_11 is not supported (read: EN10MB Ethernet, LINUX_SLL"), "\(error)")
            #expect(error.message.contains("RAW, IPV4 and IPV6 raw IP"), "\(error)")
        }
    }

    /// Raw IP link types: no link header; the reader rebuilds Ethernet (zero MACs) with the
    /// EtherType the link type, or for RAW the version nibble, says.
    @Test(arguments: [(UInt32(101), "RAW"), (228, "IPV4"), (229, "IPV6"), (12, "RAW")])
    func rawIPIsReadAsEthernet(linkType: UInt32, name: String) throws {
        let v6 = FrameBuilder.udp6(source: IPAddress("fd00:b::10")!, destination: IPAddress("fd00:a::1")!)
        let ethernet = linkType == 228 ? [Self.own, Self.foreign] : linkType == 229 ? [v6, v6] : [Self.own, v6]
        let path = try CaptureFile.write(
            CaptureBytes.pcap(linkType: linkType, frames: ethernet.map { Array($0[14...]) }), "raw-\(linkType).pcap")
        #expect(try CaptureReader(path: path).linkType.name == name)
        let frames = try readAll(path)
        #expect(frames.map { Array($0.frame[12...]) } == ethernet.map { Array($0[12...]) })
        #expect(frames.allSatisfy { $0.frame[0..<12].allSatisfy { $0 == 0 } })
        #expect(frames.map(\.wireLength) == ethernet.map(\.count))
        #expect(frames.allSatisfy { $0.interfaceIndex == nil && $0.direction == nil && !$0.truncated })
    }

    /// Linux cooked v1 (older `tcpdump -i any`): direction, no interface; kept as it was.
    @Test func cookedV1CarriesDirection() throws {
        func cooked1(_ ethernet: [UInt8], outgoing: Bool) -> [UInt8] {
            [0, outgoing ? 4 : 0, 0, 1, 0, 6] + Array(ethernet[6..<12]) + [0, 0] + Array(ethernet[12...])
        }
        let path = try CaptureFile.write(
            CaptureBytes.pcap(linkType: 113, frames: [cooked1(Self.foreign, outgoing: true), cooked1(Self.own, outgoing: false)]), "sll1.pcap")
        #expect(try CaptureReader(path: path).linkType.name == "LINUX_SLL")
        let frames = try readAll(path)
        #expect(frames.map(\.direction) == [.egress, .ingress])
        #expect(frames.allSatisfy { $0.interfaceIndex == nil })
        #expect(frames.map { Array($0.frame[6...]) } == [Array(Self.foreign[6...]), Array(Self.own[6...])])
        #expect(frames.map(\.wireLength) == [Self.foreign.count, Self.own.count])
    }

    @Test func aSmallSnaplenMarksFramesTruncated() throws {
        let path = try CaptureFile.write(CaptureBytes.pcap(linkType: 1, frames: [Self.own, Self.foreign], snaplen: 20), "s20.pcap")
        let frames = try readAll(path)
        #expect(frames.map(\.frame.count) == [20, 20])
        #expect(frames.map(\.wireLength) == [Self.own.count, Self.foreign.count])
        #expect(frames.allSatisfy { $0.truncated })
    }

    @Test func aTruncatedCaptureNamesTheFrame() throws {
        var bytes = CaptureBytes.pcap(linkType: 1, frames: [Self.own, Self.own, Self.foreign])
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

    /// A device never ends, a directory is no capture: both refused before libpcap opens them
    /// (a FIFO, which would block, is tested through the command with a deadline).
    @Test func nonRegularFilesAreRefused() throws {
        for (path, kind) in [("/dev/zero", "character device"), ("/tmp", "directory")] {
            do {
                _ = try CaptureReader(path: path)
                Issue.record("\(path) was opened")
            } catch {
                #expect(error.message == "read capture \(path): not a regular file (\(kind)); give a capture file, or - for standard input")
            }
        }
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

    static func engine() throws -> DryRun {
        let plan = try PolicyCompiler.compile(FixtureWorld.policy(), host: FixtureWorld.host).plan
        let names = Dictionary(uniqueKeysWithValues: FixtureWorld.host.interfaces.map { ($0.index, $0.name) })
        return DryRun(datapath: ReferenceDatapath(plan: plan), interfaceNames: names)
    }

    static func json(_ report: DryRunReport) throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        return String(decoding: try encoder.encode(report), as: UTF8.self)
    }

    /// 20,011 random frames (every reason, damaged and cut ones, unknown and missing
    /// interfaces; a count that is no multiple of any batch), each handed to `body` with
    /// its wire length, where and when it was seen, and whether the capture cut it.
    static func randomCapture(
        seed: UInt64,
        _ body: (UnsafeRawBufferPointer, _ wireLength: Int, _ ifindex: UInt32?, Direction, DryRun.Timestamp, _ truncated: Bool) -> Void
    ) {
        var random = RandomFrames(seed: seed)
        for index in 0..<20_011 {
            let sample = random.next()
            let ifindex: UInt32? = index % 97 == 0 ? 99 : index % 101 == 0 ? nil : FixtureWorld.ifindex(sample.interface)
            let time = DryRun.Timestamp(seconds: index / 1000, microseconds: index % 1000)
            sample.frame.withUnsafeBytes { frame in
                body(frame, frame.count + 4, ifindex, sample.direction, time, index % 7 == 0)
            }
        }
    }

    /// `submit` decides in batches (prefetching ahead); `judge` one frame at a time. Over
    /// `randomCapture`, the reports are the same.
    @Test func batchesCountAsFramesJudgedOneByOne() throws {
        var single = try Self.engine()
        var batched = try Self.engine()
        Self.randomCapture(seed: 0xba7c4) { frame, wireLength, ifindex, direction, time, truncated in
            single.judge(frame: frame, wireLength: wireLength, ifindex: ifindex, direction: direction, time: time, truncated: truncated)
            batched.submit(frame: frame, wireLength: wireLength, ifindex: ifindex, direction: direction, time: time, truncated: truncated)
        }
        batched.flush()
        let report = single.report(capture: "x", linkType: "EN10MB", top: 1_000)
        #expect(report.packets > 10_000 && report.captureTruncated > 0 && report.unattributed.frames > 0 && report.topFlows.count > 10)
        #expect(try Self.json(batched.report(capture: "x", linkType: "EN10MB", top: 1_000)) == Self.json(report))
        #expect(batched.violations == single.violations)
    }

    /// `dry-run` reads on one thread and decides on another, the reader deciding a batch
    /// itself whenever the worker is behind. Over `randomCapture`, in tiny batches
    /// (thousands of handoffs, the queue often full), in dry-run's own, and inline on one
    /// thread, the reports are the one-by-one report: the same counts, flows and times.
    @Test(arguments: [(threads: true, handoffFrames: 7, queued: 1), (true, 1024, 2), (false, 7, 1)])
    func pipelineCountsAsFramesJudgedOneByOne(threads: Bool, handoffFrames: Int, queued: Int) throws {
        var single = try Self.engine()
        let plan = try PolicyCompiler.compile(FixtureWorld.policy(), host: FixtureWorld.host).plan
        let names = Dictionary(uniqueKeysWithValues: FixtureWorld.host.interfaces.map { ($0.index, $0.name) })
        var pipeline = DryRunPipeline(
            datapath: ReferenceDatapath(plan: plan), interfaceNames: names, threads: threads, handoffFrames: handoffFrames,
            queued: queued)
        Self.randomCapture(seed: 0xd1ce) { frame, wireLength, ifindex, direction, time, truncated in
            single.judge(frame: frame, wireLength: wireLength, ifindex: ifindex, direction: direction, time: time, truncated: truncated)
            pipeline.submit(frame: frame, wireLength: wireLength, ifindex: ifindex, direction: direction, time: time, truncated: truncated)
        }
        let piped = pipeline.finish()
        let report = single.report(capture: "x", linkType: "EN10MB", top: 1_000)
        #expect(report.frames == 20_011 && report.captureTruncated > 0 && report.unattributed.frames > 0 && report.topFlows.count > 10)
        #expect(try Self.json(piped.report(capture: "x", linkType: "EN10MB", top: 1_000)) == Self.json(report))
        #expect(piped.violations == single.violations)
    }

    /// Past `flowLimit` distinct offending flows, frames still count, their flows do not.
    @Test func flowTableGrowsUpToItsLimit() throws {
        var dryRun = try Self.engine()
        let sanb0 = FixtureWorld.ifindex("sanb0")  // egress: unowned sources dropped
        let extra = 4_464
        for index in 0..<(DryRun.flowLimit + extra) {
            // Unowned sources in 100.64.0.0/10, one flow each; the first also sends twice more.
            let frame = FrameBuilder.udp4(source: .v4(0x6440_0000 + UInt32(index)), destination: IPAddress("10.2.0.1")!)
            for copy in 0..<(index == 0 ? 3 : 1) {
                frame.withUnsafeBytes {
                    dryRun.submit(
                        frame: $0, wireLength: frame.count, ifindex: sanb0, direction: .egress,
                        time: DryRun.Timestamp(seconds: index, microseconds: copy))
                }
            }
        }
        dryRun.flush()
        let report = dryRun.report(capture: "x", linkType: "EN10MB", top: 2)
        #expect(report.packets == UInt64(DryRun.flowLimit + extra + 2))
        #expect(report.untrackedViolations == UInt64(extra))
        #expect(report.topFlows.first?.source == "100.64.0.0" && report.topFlows.first?.packets == 3)
        #expect(report.topFlows.first?.first == DryRun.Timestamp(seconds: 0, microseconds: 0))
        #expect(report.topFlows.first?.last == DryRun.Timestamp(seconds: 0, microseconds: 2))
        #expect(report.topFlows.last?.source == "100.64.0.1" && report.topFlows.last?.packets == 1)
    }
}

/// Captures that are not Ethernet, or were cut by their snaplen, judged as dry-run judges them.
@Suite("Dry-run over raw IP and cut captures")
struct CaptureDryRunTests {
    static let v4own = FrameBuilder.udp4(source: IPAddress("10.1.0.10")!, destination: IPAddress("10.1.0.1")!)
    static let v4foreign = FrameBuilder.udp4(source: IPAddress("10.2.0.10")!, destination: IPAddress("10.1.0.1")!)
    static let v6own = FrameBuilder.udp6(source: IPAddress("fd00:a::10")!, destination: IPAddress("fd00:a::1")!)
    static let v6foreign = FrameBuilder.udp6(source: IPAddress("fd00:b::10")!, destination: IPAddress("fd00:a::1")!)
    static let unowned = FrameBuilder.udp4(source: IPAddress("192.0.2.1")!, destination: IPAddress("10.1.0.1")!)

    /// dry-run's loop: every frame of the capture through the engine, on sana0 (ifindex 3)
    /// unless the capture says where it was seen.
    func dryRun(_ path: String, direction: Direction = .egress) throws -> (DryRunReport, violations: UInt64) {
        let plan = try PolicyCompiler.compile(FixtureWorld.policy(), host: FixtureWorld.host).plan
        let names = Dictionary(uniqueKeysWithValues: FixtureWorld.host.interfaces.map { ($0.index, $0.name) })
        var engine = DryRun(datapath: ReferenceDatapath(plan: plan), interfaceNames: names)
        let reader = try CaptureReader(path: path)
        while try reader.withNextFrame({ header, bytes in
            engine.judge(
                frame: bytes, wireLength: header.wireLength, ifindex: header.interfaceIndex ?? 3,
                direction: header.direction ?? direction,
                time: .init(seconds: header.seconds, microseconds: header.microseconds), truncated: header.truncated)
        }) {}
        return (engine.report(capture: "capture", linkType: "any", top: 10), engine.violations)
    }

    /// The report as JSON: what `dry-run --json` prints, compared whole.
    func json(_ report: DryRunReport) throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        return String(decoding: try encoder.encode(report), as: UTF8.self)
    }

    @Test(arguments: [(UInt32(101), "mixed"), (228, "v4"), (229, "v6")])
    func rawIPJudgesLikeTheEthernetEquivalent(linkType: UInt32, family: String) throws {
        let frames = switch family {
        case "v4": [Self.v4own, Self.v4foreign, Self.unowned, Self.v4foreign]
        case "v6": [Self.v6own, Self.v6foreign, Self.v6foreign]
        default: [Self.v4own, Self.v6foreign, Self.v4foreign, Self.v6own, Self.unowned]
        }
        for direction in [Direction.egress, .ingress] {
            let ethernet = try dryRun(
                try CaptureFile.write(CaptureBytes.pcap(linkType: 1, frames: frames), "eq-eth-\(linkType).pcap"), direction: direction)
            let raw = try dryRun(
                try CaptureFile.write(CaptureBytes.pcap(linkType: linkType, frames: frames.map { Array($0[14...]) }), "eq-raw-\(linkType).pcap"),
                direction: direction)
            #expect(try json(raw.0) == json(ethernet.0))
            #expect(raw.violations == ethernet.violations)
            #expect(ethernet.0.packets == UInt64(frames.count))
        }
        // The comparison has teeth: the foreign frames are violations.
        let egress = try dryRun(try CaptureFile.write(CaptureBytes.pcap(linkType: linkType, frames: frames.map { Array($0[14...]) }), "eq-raw-\(linkType).pcap"))
        #expect(egress.violations > 0)
    }

    /// A RAW frame whose version nibble is neither 4 nor 6 is malformed, as on the wire.
    @Test func aRawFrameOfNoIPVersionIsMalformed() throws {
        var bad = Array(Self.v4foreign[14...])
        bad[0] = 0x55
        let report = try dryRun(try CaptureFile.write(CaptureBytes.pcap(linkType: 101, frames: [bad]), "raw-bad.pcap")).0
        #expect(report.counters.map(\.reason) == [.malformed])
        #expect(report.captureTruncated == 0)
    }

    /// `tcpdump -s 20`: every frame loses its IP header to the capture, not on the wire.
    @Test func framesCutBeforeTheirHeadersAreCaptureTruncated() throws {
        let frames = [Self.v4own, Self.v4foreign, Self.v6foreign, Self.unowned]
        for snaplen in [0, 13, 20, 33, 53] {
            let (report, violations) = try dryRun(
                try CaptureFile.write(CaptureBytes.pcap(linkType: 1, frames: frames, snaplen: snaplen), "cut-\(snaplen).pcap"))
            // 53 keeps the IPv4 headers (34 bytes) but not the IPv6 one (54).
            let cut = snaplen == 53 ? 1 : frames.count
            #expect(report.frames == frames.count)
            #expect(report.captureTruncated == cut, "snaplen \(snaplen)")
            #expect(report.packets == UInt64(frames.count - cut))
            #expect(!report.counters.contains { $0.reason == .malformed }, "snaplen \(snaplen)")
            #expect(violations == (snaplen == 53 ? 1 : 0))
        }
    }

    /// Cut frames whose headers were kept are judged exactly as the full capture's.
    @Test(arguments: [34, 54, 60])
    func framesCutAfterTheirHeadersAreJudged(snaplen: Int) throws {
        let frames = snaplen == 34 ? [Self.v4own, Self.v4foreign, Self.unowned] : [Self.v4foreign, Self.v6own, Self.v6foreign]
        let full = try dryRun(try CaptureFile.write(CaptureBytes.pcap(linkType: 1, frames: frames), "full-\(snaplen).pcap"))
        let cut = try dryRun(try CaptureFile.write(CaptureBytes.pcap(linkType: 1, frames: frames, snaplen: snaplen), "kept-\(snaplen).pcap"))
        #expect(cut.0.captureTruncated == 0)
        #expect(try json(cut.0) == json(full.0))
        #expect(cut.violations == full.violations && full.violations > 0)
    }

    /// A frame short on the wire (caplen == len) stays malformed: only the capture's cut is forgiven.
    @Test func aShortFrameThatWasNotCutIsMalformed() throws {
        let short = Array(Self.v4foreign.prefix(20))
        let (report, violations) = try dryRun(try CaptureFile.write(CaptureBytes.pcap(linkType: 1, frames: [short]), "short.pcap"))
        #expect(report.captureTruncated == 0)
        #expect(report.counters.map(\.reason) == [.malformed])
        #expect(violations == 1)
    }

    /// Cooked and raw captures cut inside their own header or the IP header.
    @Test func cookedAndRawCapturesCutShort() throws {
        let cooked = [CaptureBytes.cooked2(Self.v4foreign, ifindex: 3, outgoing: true)]
        let sll2 = try dryRun(try CaptureFile.write(CaptureBytes.pcap(linkType: 276, frames: cooked, snaplen: 10), "cut-sll2.pcap"))
        #expect(sll2.0.captureTruncated == 1 && sll2.violations == 0)
        let raw = try dryRun(try CaptureFile.write(
            CaptureBytes.pcap(linkType: 101, frames: [Array(Self.v4foreign[14...])], snaplen: 12), "cut-raw.pcap"))
        #expect(raw.0.captureTruncated == 1 && raw.violations == 0)
        let kept = try dryRun(try CaptureFile.write(
            CaptureBytes.pcap(linkType: 101, frames: [Array(Self.v4foreign[14...])], snaplen: 20), "kept-raw.pcap"))
        #expect(kept.0.captureTruncated == 0 && kept.violations == 1)
    }
}
