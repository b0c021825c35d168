import CFabricABI

// Swift names for the numbered codes of bpf/include/fabricguard_abi.h. The
// numbers come from the header; only the spellings (docs/decision.md) live here.

/// A numbered code of the ABI header with a stable lower-snake-case name, as
/// JSON, the command line and the docs spell it. The naming, ordering and
/// coding are written once here for every such code.
public protocol ABICode: RawRepresentable<UInt8>, Hashable, Sendable, Comparable, CustomStringConvertible, Codable {
    init(rawValue: UInt8)
    /// The name of every code this binary knows.
    static var names: [Self: String] { get }
    /// What the code is, in errors and for codes without a name: "reason", "action".
    static var kind: String { get }
}

extension ABICode {
    /// Every known code, in numeric order.
    public static var all: [Self] { names.keys.sorted() }

    /// The lower snake case name used in JSON and on the command line
    /// ("reason_9" for a code a newer object may know and this binary does not).
    public var name: String { Self.names[self] ?? "\(Self.kind)_\(rawValue)" }
    public var description: String { name }

    public init?(name: String) {
        guard let match = Self.names.first(where: { $0.value == name }) else { return nil }
        self = match.key
    }

    public static func < (lhs: Self, rhs: Self) -> Bool { lhs.rawValue < rhs.rawValue }

    public init(from decoder: any Decoder) throws {
        let text = try decoder.singleValueContainer().decode(String.self)
        guard let code = Self(name: text) else {
            throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath, debugDescription: "unknown \(Self.kind) '\(text)'"))
        }
        self = code
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(name)
    }
}

/// Why a frame got its verdict. Stable numeric codes, never renumbered.
public struct Reason: ABICode {
    public let rawValue: UInt8
    public init(rawValue: UInt8) { self.rawValue = rawValue }
    init(_ code: fg_reason) { rawValue = UInt8(code.rawValue) }

    public static let ok = Reason(FG_REASON_OK)
    public static let exempt = Reason(FG_REASON_EXEMPT)
    public static let notIP = Reason(FG_REASON_NOT_IP)
    public static let unmanaged = Reason(FG_REASON_UNMANAGED)
    public static let malformed = Reason(FG_REASON_MALFORMED)
    public static let unownedSource = Reason(FG_REASON_UNOWNED_SOURCE)
    public static let foreignSource = Reason(FG_REASON_FOREIGN_SOURCE)
    public static let foreignDestination = Reason(FG_REASON_FOREIGN_DESTINATION)
    public static let redirectUnavailable = Reason(FG_REASON_REDIRECT_UNAVAILABLE)

    public static let count = Int(FG_REASON_COUNT.rawValue)
    public static let kind = "reason"

    public static let names: [Reason: String] = [
        .ok: "ok", .exempt: "exempt", .notIP: "not_ip", .unmanaged: "unmanaged", .malformed: "malformed",
        .unownedSource: "unowned_source", .foreignSource: "foreign_source",
        .foreignDestination: "foreign_destination", .redirectUnavailable: "redirect_unavailable",
    ]
}

/// What was done with a frame. `wouldDrop` / `wouldRedirect` pass it (audit mode).
public struct Action: ABICode {
    public let rawValue: UInt8
    public init(rawValue: UInt8) { self.rawValue = rawValue }
    init(_ code: fg_action) { rawValue = UInt8(code.rawValue) }

    public static let pass = Action(FG_ACTION_PASS)
    public static let drop = Action(FG_ACTION_DROP)
    public static let redirect = Action(FG_ACTION_REDIRECT)
    public static let wouldDrop = Action(FG_ACTION_WOULD_DROP)
    public static let wouldRedirect = Action(FG_ACTION_WOULD_REDIRECT)

    public static let count = Int(FG_ACTION_COUNT.rawValue)
    public static let kind = "action"

    public static let names: [Action: String] = [
        .pass: "pass", .drop: "drop", .redirect: "redirect", .wouldDrop: "would_drop", .wouldRedirect: "would_redirect",
    ]

    /// What happens to the frame itself.
    public var verdict: Verdict {
        switch self {
        case .drop: .drop
        case .redirect: .redirect
        default: .pass
        }
    }
}

/// The fate of the frame: what the hook returns.
public enum Verdict: String, Sendable, Codable, CaseIterable {
    case pass, drop, redirect
}

public enum Direction: String, Sendable, Codable, CaseIterable, Comparable {
    case egress, ingress

    public var code: UInt8 {
        switch self {
        case .egress: UInt8(FG_DIR_EGRESS.rawValue)
        case .ingress: UInt8(FG_DIR_INGRESS.rawValue)
        }
    }

    public static func < (lhs: Direction, rhs: Direction) -> Bool { lhs.code < rhs.code }
}

/// The limits of the ABI, as Swift integers.
public enum ABILimits {
    public static let version = Int(FG_ABI_VERSION)
    public static let maxFabrics = Int(FG_MAX_FABRICS)
    public static let maxInterfaces = Int(FG_MAX_INTERFACES)
    public static let maxPrefixes = Int(FG_MAX_PREFIXES)
    public static let maxPrefixLengths = Int(FG_MAX_PREFIX_LENGTHS)
    public static let maxLocalAddresses = Int(FG_MAX_LOCAL_ADDRS)
    public static let fastSources = Int(FG_FAST_SOURCES)
    public static let maxVLANTags = Int(FG_MAX_VLAN_TAGS)
    public static let unmanagedSlot = UInt32(FG_UNMANAGED_SLOT)
}
