/// One thing `lint` found: how bad, what, where, why it matters, how to fix it.
public struct LintFinding: Sendable, Equatable, Codable {
    public enum Severity: String, Sendable, Codable, Comparable {
        /// Traffic will leak across fabrics or be dropped.
        case error
        case warning

        public static func < (lhs: Severity, rhs: Severity) -> Bool { lhs == .error && rhs == .warning }
    }

    public var severity: Severity
    /// A stable name for the class of problem (`route_crosses_fabric`, `arp_flux`, ...).
    public var kind: String
    public var interface: String?
    public var prefix: String?
    /// What is wrong and why it matters, in one sentence.
    public var message: String
    /// The command (or edit) that fixes it.
    public var fix: String

    public init(_ severity: Severity, _ kind: String, interface: String? = nil, prefix: String? = nil, message: String, fix: String) {
        self.severity = severity
        self.kind = kind
        self.interface = interface
        self.prefix = prefix
        self.message = message
        self.fix = fix
    }
}
