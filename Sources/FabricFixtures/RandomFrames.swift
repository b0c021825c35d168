import FabricABI
import FabricCompiler
import FabricPolicy
import FabricReference

/// Seeded random frames for the differential tier: valid, mutated and
/// truncated; IPv4, IPv6 and ARP; untagged, 802.1Q and QinQ; addresses drawn
/// mostly from the fixture world (each fabric's, this host's, exempt, unowned)
/// so that every branch of the decision is reached, not just "unowned".
public struct RandomFrames: Sendable {
    public struct Sample: Sendable {
        public var frame: [UInt8]
        public var interface: String
        public var direction: Direction
    }

    public private(set) var generator: SplitMix64

    public init(seed: UInt64) { generator = SplitMix64(seed: seed) }

    static let interfaces = ["lo", "mgmt0", "sana0", "sana1", "sanb0", "sanc0", "sand0", "other0"]
    static let v4 = [
        "10.1.0.10", "10.1.0.11", "10.1.0.99", "10.1.0.254", "10.2.0.10", "10.2.0.77", "10.3.0.10", "10.4.0.10",
        "10.9.0.10", "0.0.0.0", "255.255.255.255", "192.168.0.10", "198.51.100.7",
    ].map { IPAddress($0)! }
    static let v6 = [
        "fd00:a::10", "fd00:a::11", "fd00:a::99", "fd00:b::10", "fd00:b::77", "fd00:c::10", "fd00:d::10", "fd00:d::77",
        "fe80::a0", "::", "ff02::1", "2001:db8::1",
    ].map { IPAddress($0)! }

    public mutating func next() -> Sample {
        let interface = Self.interfaces[pick(Self.interfaces.count)]
        let direction: Direction = coin() ? .egress : .ingress
        var frame: [UInt8]
        let vlan: [FrameBuilder.VLANTag] = switch pick(4) {
        case 0: [.dot1q(UInt16(pick(4096)))]
        case 1: [.dot1ad(UInt16(pick(4096))), .dot1q(UInt16(pick(4096)))]
        case 2 where pick(8) == 0: [.dot1ad(1), .dot1q(2), .dot1q(3)]
        default: []
        }
        switch pick(3) {
        case 0:
            frame = FrameBuilder.udp4(
                source: address(v4: true), destination: address(v4: true), vlan: vlan, optionWords: pick(4) == 0 ? pick(11) : 0)
        case 1:
            frame = FrameBuilder.udp6(source: address(v4: false), destination: address(v4: false), vlan: vlan)
        default:
            frame = FrameBuilder.arp(
                operation: UInt16(1 + pick(2)), senderIP: address(v4: true), targetIP: address(v4: true), vlan: vlan)
        }
        // A third of the frames are damaged: bytes of the headers flipped, or the frame cut short.
        switch pick(6) {
        case 0:
            for _ in 0..<(1 + pick(3)) {
                let offset = 12 + pick(min(frame.count - 12, 48))
                frame[offset] = UInt8(truncatingIfNeeded: generator.next())
            }
        case 1:
            frame = Array(frame.prefix(14 + pick(frame.count - 13)))
        default:
            break
        }
        return Sample(frame: frame, interface: interface, direction: direction)
    }

    mutating func address(v4: Bool) -> IPAddress {
        if pick(5) == 0 {
            return v4 ? .v4(UInt32(truncatingIfNeeded: generator.next())) : .v6(UInt128(generator.next()) << 64 | UInt128(generator.next()))
        }
        return v4 ? Self.v4[pick(Self.v4.count)] : Self.v6[pick(Self.v6.count)]
    }

    mutating func pick(_ count: Int) -> Int { count <= 1 ? 0 : Int(generator.next() % UInt64(count)) }
    mutating func coin() -> Bool { generator.next() & 1 == 0 }
}

/// SplitMix64: small, fast, and the same sequence on every platform for a seed.
public struct SplitMix64: RandomNumberGenerator, Sendable {
    public private(set) var state: UInt64

    public init(seed: UInt64) { state = seed }

    public mutating func next() -> UInt64 {
        state &+= 0x9e37_79b9_7f4a_7c15
        var z = state
        z = (z ^ (z >> 30)) &* 0xbf58_476d_1ce4_e5b9
        z = (z ^ (z >> 27)) &* 0x94d0_49bb_1331_11eb
        return z ^ (z >> 31)
    }
}
