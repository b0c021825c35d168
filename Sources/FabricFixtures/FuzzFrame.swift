import FabricABI

/// The frame fuzz target's input format, shared by the fuzz harness, its seed
/// corpus (Fuzz/corpus/frame) and the kernel differential run over that corpus:
/// byte 0 says where the frame is seen, the rest is the frame.
///
///   byte 0, bit 7      direction: 0 egress, 1 ingress
///   byte 0, bits 0-6   interface: the fixture world's interfaces in ifindex
///                      order (lo, mgmt0, sana0, sana1, sanb0, sanc0, sand0, other0),
///                      taken modulo their count
public struct FuzzFrame: Sendable, Equatable {
    public var interface: String
    public var direction: Direction
    public var frame: [UInt8]

    public init(interface: String, direction: Direction, frame: [UInt8]) {
        self.interface = interface
        self.direction = direction
        self.frame = frame
    }

    /// The fixture world's interface names, in ifindex order.
    public static let interfaces: [String] = FixtureWorld.host.interfaces.sorted { $0.index < $1.index }.map(\.name)

    /// Decodes an input; nil for an empty one.
    public init?(_ bytes: UnsafeRawBufferPointer) {
        guard let first = bytes.first else { return nil }
        interface = Self.interfaces[Int(first & 0x7f) % Self.interfaces.count]
        direction = first & 0x80 == 0 ? .egress : .ingress
        frame = Array(bytes[1...])
    }

    public init?(_ bytes: [UInt8]) {
        guard let decoded = bytes.withUnsafeBytes({ FuzzFrame($0) }) else { return nil }
        self = decoded
    }

    /// The encoded input: the byte 0 above, then the frame.
    public var encoded: [UInt8] {
        let position = UInt8(Self.interfaces.firstIndex(of: interface) ?? 0)
        return [position | (direction == .ingress ? 0x80 : 0)] + frame
    }

    /// A seeded mutation of `self`: one to four of byte flips, byte sets,
    /// truncations, insertions, deletions and moves of the place the frame is seen.
    public func mutated(_ random: inout SplitMix64) -> FuzzFrame {
        var copy = self
        for _ in 0...(random.next() % 4) {
            let roll = random.next()
            let position = copy.frame.isEmpty ? 0 : Int(random.next() % UInt64(copy.frame.count))
            switch roll % 7 {
            case 0 where !copy.frame.isEmpty:
                copy.frame[position] ^= UInt8(1 << (random.next() % 8))
            case 1 where !copy.frame.isEmpty:
                copy.frame[position] = Self.interesting[Int(random.next() % UInt64(Self.interesting.count))]
            case 2:
                copy.frame.removeSubrange(position...)
            case 3:
                let count = Int(random.next() % 8) + 1
                copy.frame.insert(contentsOf: (0..<count).map { _ in UInt8(truncatingIfNeeded: random.next()) }, at: position)
            case 4 where !copy.frame.isEmpty:
                let end = min(copy.frame.count, position + Int(random.next() % 8) + 1)
                copy.frame.removeSubrange(position..<end)
            case 5:
                copy.interface = Self.interfaces[Int(random.next() % UInt64(Self.interfaces.count))]
                copy.direction = random.next() & 1 == 0 ? .egress : .ingress
            default:
                // The EtherType / VLAN / IP-version bytes are where the parser branches.
                if copy.frame.count > 13 {
                    let at = [12, 13, 14, 16, 18, 23][Int(random.next() % 6)]
                    if at < copy.frame.count { copy.frame[at] = Self.interesting[Int(random.next() % UInt64(Self.interesting.count))] }
                }
            }
        }
        return copy
    }

    static let interesting: [UInt8] = [0x00, 0x01, 0x06, 0x08, 0x11, 0x3a, 0x45, 0x4f, 0x60, 0x7f, 0x80, 0x81, 0x86, 0x88, 0xa8, 0xdd, 0xff]
}
