import FabricABI
import FabricAgent
import FabricBPF
import FabricEvents
import FabricFixtures
import FabricPolicy
import FabricReference
import Foundation
import Testing

@Suite("Violation events")
struct EventsTests {
    @Test(arguments: [
        (Int64(0), "1970-01-01T00:00:00.000000Z"),
        (Int64(951_782_400_000_001_000), "2000-02-29T00:00:00.000001Z"),
        (Int64(1_764_826_935_101_234_999), "2025-12-04T05:42:15.101234Z"),
    ])
    func timesAreRFC3339InUTCToTheMicrosecond(nanoseconds: Int64, text: String) throws {
        #expect(RFC3339.format(epochNanoseconds: nanoseconds) == text)
        let parsed = try #require(RFC3339.parse(text))
        #expect(abs(parsed - Double(nanoseconds / 1000) / 1e6) < 1e-6)
    }

    @Test func timesThatAreNotOursDoNotParse() {
        for text in ["", "2025-12-04", "2025-12-04T05:42:15+01:00", "2025-12-04T05:42:1x.1Z", "2025-12-04T05:42:15.Z"] {
            #expect(RFC3339.parse(text) == nil, "\(text)")
        }
    }

    static let record = """
        {"version": 1, "policy": "/etc/fabricguard/two.yaml", "generation": 7, "digest": "sha256:00", "applied_at": "x",
         "counter_slots": {"ens1f0": 0, "ens1f1": 1},
         "interfaces": [
           {"name": "ens1f0", "ifindex": 3, "fabric": "san-a", "counter_slot": 0, "hooks": ["tc-egress"], "egress_mode": "enforce", "ingress_mode": "enforce"},
           {"name": "ens1f1", "ifindex": 4, "fabric": "san-b", "counter_slot": 1, "hooks": ["tc-egress"], "egress_mode": "enforce", "ingress_mode": "enforce"}]}
        """

    func describer() throws -> EventDescriber {
        EventDescriber(
            record: try JSONDecoder().decode(AgentRecord.self, from: Data(Self.record.utf8)),
            host: TwoFabricWorld.host.interfaces,
            policy: try PolicyLoader.parse(yaml: TwoFabricWorld.policyYAML))
    }

    /// A SAN-B source leaving the SAN-A NIC, as the programs report it.
    @Test func aLeakIsDescribedWithNamesOwnerAndFrame() throws {
        let frame = FrameBuilder.udp4(source: IPAddress("10.2.0.5")!, destination: IPAddress("10.2.0.100")!, vlan: [.dot1q(20)])
        let raw = RawEvent(
            timestampNanoseconds: 1_000, generation: 7, ifindex: 3, direction: Direction.egress.code,
            reason: Reason.foreignSource.rawValue, action: Action.drop.rawValue, frameLength: 1514, head: frame)
        let event = try describer().describe(raw)
        #expect(event.interface == "ens1f0" && event.fabric == "san-a" && event.direction == "egress")
        #expect(event.reason == "foreign_source" && event.action == "drop" && event.generation == 7)
        #expect(event.src == "10.2.0.5" && event.dst == "10.2.0.100" && event.protocol == "udp" && event.vlan == [20])
        #expect(event.sourceFabric == "san-b" && event.length == 1514 && event.frameBytes == frame)
        #expect(event.time.hasSuffix("Z") && RFC3339.parse(event.time) != nil)
        #expect(event.sport == 40000 && event.dport == 3260)
        #expect(event.text.hasSuffix(
            "ens1f0 (san-a) egress foreign_source drop: udp 10.2.0.5:40000 -> 10.2.0.100:3260 vlan 20 source owned by san-b gen 7"),
            "\(event.text)")
    }

    @Test func theJSONLineUsesSnakeCaseAndReadsBack() throws {
        let raw = RawEvent(
            timestampNanoseconds: 1_000, generation: 2, ifindex: 99, direction: Direction.ingress.code,
            reason: Reason.foreignDestination.rawValue, action: Action.wouldDrop.rawValue, frameLength: 14, head: [0xab, 0x01])
        let event = try describer().describe(raw)
        // An interface the record does not know is named by its ifindex; an unparsable frame has no addresses.
        #expect(event.interface == "ifindex 99" && event.fabric == nil && event.src == nil && event.sourceFabric == nil)
        let line = event.jsonLine()
        #expect(line.last == UInt8(ascii: "\n"))
        let object = try #require(try JSONSerialization.jsonObject(with: Data(line)) as? [String: Any])
        #expect(Set(object.keys).isSuperset(of: [
            "time", "interface", "direction", "reason", "action", "generation", "vlan", "frame", "length",
        ]))
        #expect(object["frame"] as? String == "ab01" && object["action"] as? String == "would_drop")
        #expect(try ViolationEvent.decoder.decode(ViolationEvent.self, from: Data(line)) == event)
    }
}
