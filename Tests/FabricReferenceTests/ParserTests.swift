import FabricABI
import FabricCompiler
import FabricFixtures
import FabricPolicy
import FabricReference
import Testing

@Suite("Reference parser")
struct ParserTests {
    @Test func ethernetSkipsUpToTwoTags() {
        let frame = FrameBuilder.udp4(
            source: IPAddress("10.1.0.1")!, destination: IPAddress("10.1.0.2")!, vlan: [.dot1ad(1), .dot1q(2)])
        frame.withUnsafeBytes { bytes in
            var cursor = HeaderCursor(bytes)
            #expect(cursor.parseEthhdr() == EtherType.ipv4)
            #expect(cursor.pos == 22)
            let addresses = cursor.parseIphdr()
            #expect(addresses?.source == 0x0a01_0001 && addresses?.destination == 0x0a01_0002)
            #expect(cursor.pos == 42)
        }
    }

    @Test func ipv4OptionsMoveTheCursor() {
        let frame = FrameBuilder.udp4(source: IPAddress("10.1.0.1")!, destination: IPAddress("10.1.0.2")!, optionWords: 4)
        frame.withUnsafeBytes { bytes in
            var cursor = HeaderCursor(bytes)
            _ = cursor.parseEthhdr()
            #expect(cursor.parseIphdr() != nil)
            #expect(cursor.pos == 14 + 36)
        }
    }

    @Test func ipv4HeaderChecksumIsValid() {
        let frame = FrameBuilder.udp4(source: IPAddress("10.1.0.1")!, destination: IPAddress("10.1.0.2")!, optionWords: 1)
        #expect(FrameBuilder.internetChecksum(Array(frame[14..<38])) == 0)
    }

    @Test func arpFields() {
        let frame = FrameBuilder.arp(operation: ARP.request, senderIP: IPAddress("10.1.0.1")!, targetIP: IPAddress("10.2.0.9")!)
        #expect(frame.count == 42)
        frame.withUnsafeBytes { bytes in
            var cursor = HeaderCursor(bytes)
            #expect(cursor.parseEthhdr() == EtherType.arp)
            let arp = cursor.parseArphdr()
            #expect(arp == HeaderCursor.ARPFields(protocolType: 0x0800, operation: 1, senderIP: 0x0a01_0001, targetIP: 0x0a02_0009))
        }
    }

    /// Random and mutated frames never trap and always give the same answer:
    /// the reference must be total over arbitrary bytes, as the kernel is.
    @Test func totalOverArbitraryBytes() throws {
        let compilation = try PolicyCompiler.compile(FixtureWorld.policy(), host: FixtureWorld.host)
        let datapath = ReferenceDatapath(plan: compilation.plan)
        var generator = SplitMix64(seed: 0x5eed)
        let seeds = Fixtures.all.map(\.frame).filter { !$0.isEmpty }
        for _ in 0..<20_000 {
            var frame = seeds[Int(generator.next() % UInt64(seeds.count))]
            for _ in 0..<Int(generator.next() % 4) {
                frame[Int(generator.next() % UInt64(frame.count))] = UInt8(truncatingIfNeeded: generator.next())
            }
            frame = Array(frame.prefix(Int(generator.next() % UInt64(frame.count + 1))))
            let ifindex = UInt32(generator.next() % 10)
            let direction: Direction = generator.next() & 1 == 0 ? .egress : .ingress
            let first = datapath.decide(frame: frame, ifindex: ifindex, direction: direction)
            #expect(first == datapath.decide(frame: frame, ifindex: ifindex, direction: direction))
            #expect(first.verdict != .redirect || (direction == .egress && first.redirectIfindex != 0))
        }
    }
}

@Suite("Frame summaries for events")
struct FrameSummaryTests {
    @Test func vlanTagsAddressesProtocolAndPorts() {
        // Ethernet, 802.1ad 100, 802.1Q 200, IPv4 UDP 10.2.0.10:40000 -> 10.2.0.100:3260.
        var frame: [UInt8] = Array(repeating: 0xaa, count: 12)
        frame += [0x88, 0xa8, 0x00, 100, 0x81, 0x00, 0x00, 200, 0x08, 0x00]
        frame += [0x45, 0, 0, 28, 0, 0, 0, 0, 64, 17, 0, 0, 10, 2, 0, 10, 10, 2, 0, 100]
        frame += [0x9c, 0x40, 0x0c, 0xbc, 0, 8, 0, 0]
        let summary = FrameSummary(frame)
        #expect(summary.vlan == [100, 200])
        #expect(summary.source?.description == "10.2.0.10" && summary.destination?.description == "10.2.0.100")
        #expect(summary.protocolName == "udp" && summary.sourcePort == 40000 && summary.destinationPort == 3260)
        // Cut inside the UDP header: addresses, no ports.
        let cut = FrameSummary(Array(frame.prefix(frame.count - 6)))
        #expect(cut.source != nil && cut.sourcePort == nil)
        #expect(FrameSummary([1, 2, 3]) == FrameSummary([]))
    }
}
