/// A CIDR prefix such as `10.1.0.0/24` or `fd00:a::/64`. Host bits are always
/// zero: a prefix written with host bits set is rejected, not silently masked,
/// because `10.1.0.5/24` in a policy is far more often a typo than an intent.
public struct IPPrefix: Hashable, Sendable, Comparable, CustomStringConvertible {
    // Stored as two words and two bytes rather than as an `IPAddress` and an `Int`:
    // `UInt128`'s 16-byte alignment made a prefix 32 bytes, this is 24, and a policy
    // may list a million of them (held by the policy and again by the plan).
    private let high: UInt64
    private let low: UInt64
    private let storedLength: UInt8
    private let isIPv6: Bool

    public var address: IPAddress {
        isIPv6 ? .v6(UInt128(high) << 64 | UInt128(low)) : .v4(UInt32(truncatingIfNeeded: low))
    }

    public var length: Int { Int(storedLength) }

    public enum ParseError: Error, Equatable, Sendable, CustomStringConvertible {
        case missingLength(String)
        case badAddress(String)
        case badLength(String)
        case lengthTooLong(length: Int, maximum: Int)
        case hostBitsSet(suggestion: IPPrefix)

        public var description: String {
            switch self {
            case .missingLength(let text):
                "has no prefix length (write \(text)/32 or \(text)/128 for a single address)"
            case .badAddress(let text): "'\(text)' is not an IPv4 or IPv6 address"
            case .badLength(let text):
                text.utf8.count > 1 && text.utf8.first == UInt8(ascii: "0") && text.utf8.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 })
                    ? "'\(text)' is not a prefix length (leading zeros are not allowed)"
                    : "'\(text)' is not a prefix length"
            case .lengthTooLong(let length, let maximum):
                "prefix length \(length) exceeds \(maximum)"
            case .hostBitsSet(let suggestion):
                "host bits are set (did you mean \(suggestion)?)"
            }
        }
    }

    /// A prefix whose host bits are known to be zero.
    public init(address: IPAddress, length: Int) throws(ParseError) {
        let width = address.family.bitWidth
        guard length >= 0, length <= width else {
            throw .lengthTooLong(length: length, maximum: width)
        }
        let masked = IPPrefix.mask(address, to: length)
        guard masked == address else {
            throw .hostBitsSet(suggestion: IPPrefix(unchecked: masked, length: length))
        }
        self.init(unchecked: address, length: length)
    }

    /// Parses `ADDRESS/LENGTH`; a bare address is refused so that intent is explicit.
    public init(parsing text: String) throws(ParseError) {
        let utf8 = text.utf8
        guard let slash = utf8.firstIndex(of: UInt8(ascii: "/")), utf8[utf8.index(after: slash)...].firstIndex(of: UInt8(ascii: "/")) == nil
        else { throw .missingLength(text) }
        let addressText = Substring(utf8[..<slash]), lengthText = Substring(utf8[utf8.index(after: slash)...])
        guard let address = IPAddress.dottedQuad(addressText.utf8) ?? IPAddress(String(addressText)) else {
            throw .badAddress(String(addressText))
        }
        // Decimal digits only, no sign, no spaces, and no leading zero: `/08` is refused
        // like inet_pton refuses `010.1.0.0` (is it 8, or octal?).
        guard !lengthText.isEmpty, lengthText.utf8.count <= 3, lengthText.utf8.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }),
              lengthText.utf8.count == 1 || lengthText.utf8.first != UInt8(ascii: "0"),
              let length = Int(lengthText)
        else { throw .badLength(String(lengthText)) }
        try self.init(address: address, length: length)
    }

    /// The prefix covering `address` at `length`, host bits cleared.
    public init(covering address: IPAddress, length: Int) {
        self.init(unchecked: IPPrefix.mask(address, to: min(length, address.family.bitWidth)), length: length)
    }

    private init(unchecked address: IPAddress, length: Int) {
        switch address {
        case .v4(let value):
            (high, low, isIPv6) = (0, UInt64(value), false)
        case .v6(let value):
            (high, low, isIPv6) = (UInt64(truncatingIfNeeded: value >> 64), UInt64(truncatingIfNeeded: value), true)
        }
        storedLength = UInt8(clamping: length)
    }

    public var family: IPAddress.Family { address.family }

    public func contains(_ other: IPAddress) -> Bool {
        other.family == family && IPPrefix.mask(other, to: length) == address
    }

    /// True when one prefix contains the other (prefixes never partially overlap).
    public func overlaps(_ other: IPPrefix) -> Bool {
        guard other.family == family else { return false }
        return length <= other.length ? contains(other.address) : other.contains(address)
    }

    public var description: String { "\(address)/\(length)" }

    public static func < (lhs: IPPrefix, rhs: IPPrefix) -> Bool {
        (lhs.address, lhs.length) < (rhs.address, rhs.length)
    }

    static func mask(_ address: IPAddress, to length: Int) -> IPAddress {
        switch address {
        case .v4(let value):
            return .v4(length == 0 ? 0 : value & ~UInt32(0) << (32 - length))
        case .v6(let value):
            return .v6(length == 0 ? 0 : value & ~UInt128(0) << (128 - length))
        }
    }
}

extension IPPrefix: Codable {
    public init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        let text = try container.decode(String.self)
        do {
            try self.init(parsing: text)
        } catch {
            throw DecodingError.dataCorruptedError(in: container, debugDescription: error.description)
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(description)
    }
}

extension IPPrefix {
    /// fe80::/10: never a fabric's, never a source to learn or protect.
    public static let ipv6LinkLocal = IPPrefix(covering: IPAddress("fe80::")!, length: 10)
}
