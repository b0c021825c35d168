import FabricABI
import FabricCompiler
import FabricPolicy
import FabricReference

/// One frame, where it is seen, and what docs/decision.md says must happen to it.
/// Expectations are written by hand from the spec, never computed by the
/// reference path: the table judges the reference and the kernel alike.
public struct Fixture: Sendable, CustomStringConvertible {
    public var name: String
    public var frame: [UInt8]
    public var interface: String
    public var direction: Direction
    public var expected: Expected

    public struct Expected: Sendable, Equatable, CustomStringConvertible {
        public var reason: Reason
        public var action: Action
        /// The interface a (would-be) redirect goes to.
        public var redirectInterface: String?

        public init(reason: Reason, action: Action, redirectInterface: String?) {
            self.reason = reason
            self.action = action
            self.redirectInterface = redirectInterface
        }

        public var verdict: Verdict { action.verdict }
        public var description: String {
            "\(verdict.rawValue) (\(reason.name), \(action.name)\(redirectInterface.map { " -> \($0)" } ?? ""))"
        }
    }

    public var ifindex: UInt32 { FixtureWorld.ifindex(interface) }

    /// BPF_PROG_TEST_RUN refuses frames shorter than an Ethernet header, and
    /// such frames never reach a hook; the kernel tier skips them.
    public var kernelRunnable: Bool { frame.count >= 14 }

    public var description: String { "\(direction.rawValue) \(interface): \(name)" }
}

public enum Fixtures {
    /// Every fixture: the hand-written cases and the truncation series.
    public static let all: [Fixture] = egress + ingress + truncations

    // MARK: Vocabulary

    static func ip(_ text: String) -> IPAddress {
        guard let address = IPAddress(text) else { fatalError("bad fixture address \(text)") }
        return address
    }

    static func udp(_ source: String, _ destination: String, vlan: [FrameBuilder.VLANTag] = []) -> [UInt8] {
        FrameBuilder.udp(source: ip(source), destination: ip(destination), vlan: vlan)
    }

    static func arpRequest(_ sender: String, _ target: String, vlan: [FrameBuilder.VLANTag] = []) -> [UInt8] {
        FrameBuilder.arp(operation: ARP.request, senderIP: ip(sender), targetIP: ip(target), vlan: vlan)
    }

    static func arpReply(_ sender: String, _ target: String) -> [UInt8] {
        FrameBuilder.arp(operation: ARP.reply, senderIP: ip(sender), targetIP: ip(target))
    }

    static let qinq: [FrameBuilder.VLANTag] = [.dot1ad(100), .dot1q(200)]

    static func out(_ name: String, _ interface: String, _ frame: [UInt8], _ expected: Fixture.Expected) -> Fixture {
        Fixture(name: name, frame: frame, interface: interface, direction: .egress, expected: expected)
    }

    static func into(_ name: String, _ interface: String, _ frame: [UInt8], _ expected: Fixture.Expected) -> Fixture {
        Fixture(name: name, frame: frame, interface: interface, direction: .ingress, expected: expected)
    }

    static func expect(_ reason: Reason, _ action: Action, to redirect: String? = nil) -> Fixture.Expected {
        Fixture.Expected(reason: reason, action: action, redirectInterface: redirect)
    }

    static let ok = expect(.ok, .pass)
    static let exempt = expect(.exempt, .pass)
    static let notIP = expect(.notIP, .pass)
    static let unmanaged = expect(.unmanaged, .pass)

    /// Mutates one byte of a built frame (offsets count from the frame start).
    static func patched(_ frame: [UInt8], _ offset: Int, _ value: UInt8) -> [UInt8] {
        var copy = frame
        copy[offset] = value
        return copy
    }

    // MARK: Egress

    static let egress: [Fixture] = [
        out("IPv4 own source", "sana0", udp("10.1.0.10", "10.1.0.1"), ok),
        out("IPv6 own source", "sana0", udp("fd00:a::10", "fd00:a::1"), ok),
        out("IPv4 own source, second NIC of the fabric", "sana1", udp("10.1.0.11", "10.1.0.1"), ok),
        out("IPv4 SAN-B source leaves SAN-A", "sana0", udp("10.2.0.10", "10.1.0.1"), expect(.foreignSource, .drop)),
        out("IPv6 SAN-B source leaves SAN-A", "sana0", udp("fd00:b::10", "fd00:a::1"), expect(.foreignSource, .drop)),
        out("IPv4 unowned source, unowned: pass", "sana0", udp("10.9.0.10", "10.1.0.1"), expect(.unownedSource, .pass)),
        out("IPv6 unowned source, unowned: pass", "sana0", udp("2001:db8::1", "fd00:a::1"), expect(.unownedSource, .pass)),
        out("redirect to the NIC holding the source", "sanb0", udp("10.1.0.10", "10.2.0.1"),
            expect(.foreignSource, .redirect, to: "sana0")),
        out("redirect to the second NIC holding the source", "sanb0", udp("10.1.0.11", "10.2.0.1"),
            expect(.foreignSource, .redirect, to: "sana1")),
        out("redirect a non-local source to the first usable NIC", "sanb0", udp("10.1.0.99", "10.2.0.1"),
            expect(.foreignSource, .redirect, to: "sana0")),
        out("IPv6 redirect to the NIC holding the source", "sanb0", udp("fd00:a::11", "fd00:b::1"),
            expect(.foreignSource, .redirect, to: "sana1")),
        out("IPv4 redirect to another redirecting fabric", "sanb0", udp("10.3.0.10", "10.2.0.1"),
            expect(.foreignSource, .redirect, to: "sanc0")),
        out("redirect with the owning NIC down", "sanb0", udp("10.4.0.10", "10.2.0.1"),
            expect(.redirectUnavailable, .drop)),
        out("IPv6 redirect of a non-local source, owning NIC down", "sanb0", udp("fd00:d::77", "fd00:b::1"),
            expect(.redirectUnavailable, .drop)),
        out("IPv4 unowned source, unowned: drop", "sanb0", udp("10.9.0.10", "10.2.0.1"), expect(.unownedSource, .drop)),
        out("IPv6 unowned source, unowned: drop", "sanb0", udp("2001:db8::1", "fd00:b::1"), expect(.unownedSource, .drop)),
        out("audit redirect", "sanc0", udp("10.1.0.10", "10.3.0.1"), expect(.foreignSource, .wouldRedirect, to: "sana0")),
        out("IPv6 audit redirect", "sanc0", udp("fd00:b::10", "fd00:c::1"), expect(.foreignSource, .wouldRedirect, to: "sanb0")),
        out("audit redirect, owning NIC down", "sanc0", udp("10.4.0.10", "10.3.0.1"), expect(.redirectUnavailable, .wouldDrop)),
        out("audit, unowned: pass", "sanc0", udp("10.9.0.10", "10.3.0.1"), expect(.unownedSource, .pass)),
        out("audit drop", "sand0", udp("10.1.0.10", "10.4.0.1"), expect(.foreignSource, .wouldDrop)),
        out("audit drop, IPv6", "sand0", udp("fd00:c::10", "fd00:d::1"), expect(.foreignSource, .wouldDrop)),
        out("audit, unowned: drop", "sand0", udp("10.9.0.10", "10.4.0.1"), expect(.unownedSource, .wouldDrop)),
        out("own source on a NIC that is down", "sand0", udp("fd00:d::10", "fd00:d::1"), ok),
        out("management interface", "mgmt0", udp("10.2.0.10", "192.168.0.1"), unmanaged),
        out("unlisted interface", "other0", udp("10.2.0.10", "10.9.0.1"), unmanaged),
        out("loopback", "lo", udp("10.2.0.10", "127.0.0.1"), unmanaged),
        out("DHCP source 0.0.0.0", "sana0", udp("0.0.0.0", "255.255.255.255"), exempt),
        out("IPv6 DAD source ::", "sana0", udp("::", "ff02::1:ff00:10"), exempt),
        out("IPv6 link-local source", "sana0", udp("fe80::a0", "ff02::1"), exempt),
        out("link-local source on a redirecting fabric", "sanb0", udp("fe80::1", "ff02::1"), exempt),
        out("exempt /32 inside an owned prefix", "sana0", udp("10.1.0.254", "10.1.0.1"), exempt),
        out("exempt /32 wins over a foreign owner", "sanb0", udp("10.1.0.254", "10.2.0.1"), exempt),
        out("802.1Q own source", "sana0", udp("10.1.0.10", "10.1.0.1", vlan: [.dot1q(10)]), ok),
        out("802.1Q foreign source", "sana0", udp("10.2.0.10", "10.1.0.1", vlan: [.dot1q(10)]), expect(.foreignSource, .drop)),
        out("QinQ foreign source", "sana0", udp("10.2.0.10", "10.1.0.1", vlan: qinq), expect(.foreignSource, .drop)),
        out("QinQ IPv6 foreign source", "sana0", udp("fd00:b::10", "fd00:a::1", vlan: qinq), expect(.foreignSource, .drop)),
        out("two 802.1Q tags, foreign source", "sana0", udp("10.2.0.10", "10.1.0.1", vlan: [.dot1q(1), .dot1q(2)]),
            expect(.foreignSource, .drop)),
        out("QinQ redirect", "sanb0", udp("10.1.0.11", "10.2.0.1", vlan: qinq), expect(.foreignSource, .redirect, to: "sana1")),
        out("three tags are not parsed", "sana0", udp("10.2.0.10", "10.1.0.1", vlan: [.dot1ad(1), .dot1q(2), .dot1q(3)]), notIP),
        out("ARP request from an own address", "sana0", arpRequest("10.1.0.10", "10.1.0.1"), ok),
        out("ARP request from a SAN-B address", "sana0", arpRequest("10.2.0.10", "10.1.0.1"), expect(.foreignSource, .drop)),
        out("ARP reply from a SAN-B address", "sana0", arpReply("10.2.0.10", "10.1.0.1"), expect(.foreignSource, .drop)),
        out("802.1Q ARP request from a SAN-B address", "sana0", arpRequest("10.2.0.10", "10.1.0.1", vlan: [.dot1q(7)]),
            expect(.foreignSource, .drop)),
        out("ARP probe from 0.0.0.0", "sana0", arpRequest("0.0.0.0", "10.1.0.10"), exempt),
        out("ARP is dropped, not redirected", "sanb0", arpRequest("10.1.0.10", "10.2.0.1"), expect(.foreignSource, .drop)),
        out("ARP in audit redirect would drop", "sanc0", arpRequest("10.1.0.10", "10.3.0.1"), expect(.foreignSource, .wouldDrop)),
        out("ARP for another protocol", "sana0", patched(arpRequest("10.2.0.10", "10.1.0.1"), 16, 0x86), notIP),
        out("ARP with 8-byte hardware addresses", "sana0", patched(arpRequest("10.1.0.10", "10.1.0.1"), 18, 8),
            expect(.malformed, .drop)),
        out("LLDP", "sana0", FrameBuilder.ethernet(etherType: 0x88cc, payload: [UInt8](repeating: 0, count: 46)), notIP),
        out("IPv4 with options, own source", "sana0",
            FrameBuilder.udp4(source: ip("10.1.0.10"), destination: ip("10.1.0.1"), optionWords: 3), ok),
        out("IPv4 with options, foreign source", "sana0",
            FrameBuilder.udp4(source: ip("10.2.0.10"), destination: ip("10.1.0.1"), optionWords: 10),
            expect(.foreignSource, .drop)),
        out("IPv4 IHL 4", "sana0", patched(udp("10.1.0.10", "10.1.0.1"), 14, 0x44), expect(.malformed, .drop)),
        out("IPv4 IHL 0", "sana0", patched(udp("10.1.0.10", "10.1.0.1"), 14, 0x40), expect(.malformed, .drop)),
        out("IPv4 EtherType carrying version 6", "sana0", patched(udp("10.1.0.10", "10.1.0.1"), 14, 0x65),
            expect(.malformed, .drop)),
        out("IPv6 EtherType carrying version 4", "sana0", patched(udp("fd00:a::10", "fd00:a::1"), 14, 0x45),
            expect(.malformed, .drop)),
        out("IPv4 IHL beyond the frame", "sana0", patched(udp("10.1.0.10", "10.1.0.1"), 14, 0x4f),
            expect(.malformed, .drop)),
        out("malformed in audit", "sanc0", patched(udp("10.3.0.10", "10.3.0.1"), 14, 0x43), expect(.malformed, .wouldDrop)),
        out("malformed on the management interface", "mgmt0", patched(udp("10.1.0.10", "10.1.0.1"), 14, 0x43), unmanaged),
    ]

    // MARK: Ingress

    static let ingress: [Fixture] = [
        into("IPv4 own fabric", "sana0", udp("10.1.0.1", "10.1.0.10"), ok),
        into("IPv6 own fabric", "sana0", udp("fd00:a::1", "fd00:a::10"), ok),
        into("IPv4 spoofed SAN-B source", "sana0", udp("10.2.0.77", "10.1.0.10"), expect(.foreignSource, .drop)),
        into("IPv6 spoofed SAN-B source", "sana0", udp("fd00:b::77", "fd00:a::10"), expect(.foreignSource, .drop)),
        into("IPv4 for our SAN-B address (weak host)", "sana0", udp("10.1.0.1", "10.2.0.10"),
            expect(.foreignDestination, .drop)),
        into("IPv6 for our SAN-B address (weak host)", "sana0", udp("fd00:a::1", "fd00:b::10"),
            expect(.foreignDestination, .drop)),
        into("unowned source to an own address", "sana0", udp("198.51.100.7", "10.1.0.10"), ok),
        into("unowned source to our SAN-B address", "sana0", udp("198.51.100.7", "10.2.0.10"),
            expect(.foreignDestination, .drop)),
        into("SAN-B destination that is not ours", "sana0", udp("10.1.0.1", "10.2.0.99"), ok),
        into("our address owned by a fabric whose NIC is down", "sana0", udp("10.1.0.1", "10.4.0.10"),
            expect(.foreignDestination, .drop)),
        into("own address held by the fabric's other NIC", "sana0", udp("10.1.0.1", "10.1.0.11"), ok),
        into("IPv6 own address held by the fabric's other NIC", "sana1", udp("fd00:a::1", "fd00:a::10"), ok),
        into("ARP request for our SAN-B address (ARP flux)", "sana0", arpRequest("10.1.0.1", "10.2.0.10"),
            expect(.foreignDestination, .drop)),
        into("ARP reply to our SAN-B address", "sana0", arpReply("10.1.0.1", "10.2.0.10"), ok),
        into("ARP request for our own address", "sana0", arpRequest("10.1.0.1", "10.1.0.10"), ok),
        into("ARP request from a SAN-B sender", "sana0", arpRequest("10.2.0.1", "10.1.0.10"), expect(.foreignSource, .drop)),
        into("QinQ ARP request for our SAN-B address", "sana0", arpRequest("10.1.0.1", "10.2.0.10", vlan: qinq),
            expect(.foreignDestination, .drop)),
        into("source check only: foreign destination passes", "sanb0", udp("10.2.0.1", "10.1.0.10"), ok),
        into("source check only: foreign source", "sanb0", udp("10.1.0.5", "10.2.0.10"), expect(.foreignSource, .drop)),
        into("source check only: ARP flux passes", "sanb0", arpRequest("10.2.0.1", "10.1.0.10"), ok),
        into("audit foreign source", "sanc0", udp("10.1.0.5", "10.3.0.10"), expect(.foreignSource, .wouldDrop)),
        into("audit foreign destination", "sanc0", udp("10.3.0.1", "10.1.0.10"), expect(.foreignDestination, .wouldDrop)),
        into("IPv6 audit foreign destination", "sanc0", udp("fd00:c::1", "fd00:b::10"),
            expect(.foreignDestination, .wouldDrop)),
        into("ingress off", "sand0", udp("10.1.0.5", "10.4.0.10"), unmanaged),
        into("DHCP from 0.0.0.0", "sana0", udp("0.0.0.0", "255.255.255.255"), exempt),
        into("link-local source to our SAN-B address", "sana0", udp("fe80::1", "fd00:b::10"), exempt),
        into("exempt /32 source", "sana0", udp("10.1.0.254", "10.2.0.10"), exempt),
        into("management interface", "mgmt0", udp("10.2.0.1", "10.1.0.10"), unmanaged),
        into("unlisted interface", "other0", udp("10.2.0.1", "10.2.0.10"), unmanaged),
        into("802.1Q spoofed source", "sana0", udp("10.2.0.77", "10.1.0.10", vlan: [.dot1q(5)]), expect(.foreignSource, .drop)),
        into("QinQ IPv6 for our SAN-B address", "sana0", udp("fd00:a::1", "fd00:b::10", vlan: qinq),
            expect(.foreignDestination, .drop)),
        into("foreign source is reported before foreign destination", "sana0", udp("10.2.0.1", "10.2.0.10"),
            expect(.foreignSource, .drop)),
        into("not IP", "sana0", FrameBuilder.ethernet(etherType: 0x88cc, payload: [UInt8](repeating: 0, count: 46)), notIP),
        into("IPv4 IHL 4", "sana0", patched(udp("10.1.0.1", "10.1.0.10"), 14, 0x44), expect(.malformed, .drop)),
        into("malformed in audit", "sanc0", patched(udp("fd00:c::1", "fd00:c::10"), 14, 0x50), expect(.malformed, .wouldDrop)),
        into("malformed with ingress off", "sand0", patched(udp("10.4.0.1", "10.4.0.10"), 14, 0x44), unmanaged),
    ]

    // MARK: Truncation

    /// Each base frame cut at every byte offset inside its headers: everything
    /// short of the full header set is malformed (enforce: drop, audit: would_drop).
    static let truncations: [Fixture] = {
        struct Base {
            var name: String
            var interface: String
            var direction: Direction
            var frame: [UInt8]
            var headerLength: Int
            var action: Action
        }
        let bases = [
            Base(name: "IPv4", interface: "sana0", direction: .egress, frame: udp("10.1.0.10", "10.1.0.1"),
                 headerLength: 14 + 20, action: .drop),
            Base(name: "IPv4 with 2 option words", interface: "sana0", direction: .ingress,
                 frame: FrameBuilder.udp4(source: ip("10.1.0.1"), destination: ip("10.1.0.10"), optionWords: 2),
                 headerLength: 14 + 28, action: .drop),
            Base(name: "IPv6", interface: "sana1", direction: .egress, frame: udp("fd00:a::11", "fd00:a::1"),
                 headerLength: 14 + 40, action: .drop),
            Base(name: "ARP request", interface: "sana0", direction: .ingress, frame: arpRequest("10.1.0.1", "10.1.0.10"),
                 headerLength: 14 + 28, action: .drop),
            Base(name: "QinQ IPv4", interface: "sanb0", direction: .egress, frame: udp("10.2.0.10", "10.2.0.1", vlan: qinq),
                 headerLength: 22 + 20, action: .drop),
            Base(name: "802.1Q IPv6 in audit", interface: "sanc0", direction: .ingress,
                 frame: udp("fd00:c::1", "fd00:c::10", vlan: [.dot1q(3)]), headerLength: 18 + 40, action: .wouldDrop),
        ]
        return bases.flatMap { base in
            (0..<base.headerLength).map { length in
                Fixture(
                    name: "\(base.name) truncated to \(length) bytes", frame: Array(base.frame.prefix(length)),
                    interface: base.interface, direction: base.direction,
                    expected: Fixture.Expected(reason: .malformed, action: base.action, redirectInterface: nil))
            }
        }
    }()
}
