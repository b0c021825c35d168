import Foundation

/// One violation event as fabricguard reports it (docs/cli.md, "events"):
/// the kernel's sample with names put on its numbers. The same JSON goes over
/// the daemon's socket and out of `events --json`, one object per line, keys
/// in lower snake case.
public struct ViolationEvent: Sendable, Equatable, Codable {
    /// RFC 3339, UTC, with microseconds.
    public var time: String
    public var interface: String
    public var fabric: String?
    public var direction: String
    public var reason: String
    public var action: String
    public var generation: UInt64
    /// 802.1Q / 802.1ad tags, outermost first.
    public var vlan: [UInt16]
    public var src: String?
    public var dst: String?
    public var `protocol`: String?
    public var sport: UInt16?
    public var dport: UInt16?
    /// The fabric that owns `src`, if any.
    public var sourceFabric: String?
    /// The frame's length on the wire; `frame` holds its first bytes.
    public var length: Int
    /// The first bytes of the frame (up to 128), hex.
    public var frame: String

    public init(
        time: String, interface: String, fabric: String?, direction: String, reason: String, action: String,
        generation: UInt64, vlan: [UInt16], src: String?, dst: String?, protocol: String?, sport: UInt16?,
        dport: UInt16?, sourceFabric: String?, length: Int, frame: String
    ) {
        self.time = time
        self.interface = interface
        self.fabric = fabric
        self.direction = direction
        self.reason = reason
        self.action = action
        self.generation = generation
        self.vlan = vlan
        self.src = src
        self.dst = dst
        self.protocol = `protocol`
        self.sport = sport
        self.dport = dport
        self.sourceFabric = sourceFabric
        self.length = length
        self.frame = frame
    }

    /// One human line: when, where, what was done and to which packet.
    public var text: String {
        let place = fabric.map { "\(interface) (\($0))" } ?? interface
        let from = (src ?? "?") + (sport.map { ":\($0)" } ?? "")
        let to = (dst ?? "?") + (dport.map { ":\($0)" } ?? "")
        let tags = vlan.isEmpty ? "" : " vlan \(vlan.map(String.init).joined(separator: "."))"
        let owner = src == nil ? "" : " source owned by \(sourceFabric ?? "no fabric")"
        return "\(time) \(place) \(direction) \(reason) \(action): \(`protocol` ?? "?") \(from) -> \(to)\(tags)\(owner) gen \(generation)"
    }

    /// The sampled bytes of the frame.
    public var frameBytes: [UInt8] {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(frame.utf8.count / 2)
        var high: UInt8?
        for digit in frame.utf8 {
            guard let nibble = Self.nibble(digit) else { return bytes }
            if let first = high {
                bytes.append(first << 4 | nibble)
                high = nil
            } else {
                high = nibble
            }
        }
        return bytes
    }

    /// `time` as seconds since the epoch, nil when it does not parse.
    public var epochSeconds: Double? { RFC3339.parse(time) }

    static func nibble(_ digit: UInt8) -> UInt8? {
        switch digit {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): digit - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): digit - UInt8(ascii: "a") + 10
        default: nil
        }
    }

    /// The coders of the wire and of `--json`: snake case keys, sorted.
    public static let encoder: JSONEncoder = {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        encoder.keyEncodingStrategy = .convertToSnakeCase
        return encoder
    }()

    public static let decoder: JSONDecoder = {
        let decoder = JSONDecoder()
        decoder.keyDecodingStrategy = .convertFromSnakeCase
        return decoder
    }()

    /// The event as one line of JSON, newline included.
    public func jsonLine() -> [UInt8] {
        // Encoding a struct of strings and integers cannot fail.
        Array((try? Self.encoder.encode(self)) ?? Data()) + [UInt8(ascii: "\n")]
    }
}
