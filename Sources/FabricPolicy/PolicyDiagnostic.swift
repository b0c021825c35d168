/// One problem in a file fabricguard reads (a policy, a host file), located precisely enough
/// for an editor to jump to:
/// `policy.yaml:7:18: fabrics[0].prefixes[1]: '10.1.0.5/24': host bits are set (did you mean 10.1.0.0/24?)`.
public struct PolicyDiagnostic: Error, Sendable, Equatable, Hashable, Comparable, Codable, CustomStringConvertible {
    public var file: String
    public var line: Int
    public var column: Int
    /// The field path, e.g. `fabrics[1].egress.action`; empty for the document itself.
    public var field: String
    public var message: String

    public init(file: String, line: Int, column: Int, field: String, message: String) {
        self.file = file
        self.line = line
        self.column = column
        self.field = field
        self.message = message
    }

    public var description: String {
        field.isEmpty
            ? "\(file):\(line):\(column): \(message)"
            : "\(file):\(line):\(column): \(field): \(message)"
    }

    /// In file order, so a list of them reads from the top of the file down.
    public static func < (a: PolicyDiagnostic, b: PolicyDiagnostic) -> Bool {
        (a.line, a.column, a.field) < (b.line, b.column, b.field)
    }

    /// A headline (`invalid policy p.yaml`) with the count, then one diagnostic per line.
    public static func report(_ headline: String, _ diagnostics: [PolicyDiagnostic]) -> String {
        let count = diagnostics.count == 1 ? "1 error" : "\(diagnostics.count) errors"
        return (["\(headline): \(count)"] + diagnostics.map { "  \($0)" }).joined(separator: "\n")
    }
}

/// Every problem found in one pass over a policy; a policy with any is never applied.
public struct PolicyError: Error, Sendable, Equatable, CustomStringConvertible {
    public var file: String
    public var diagnostics: [PolicyDiagnostic]

    public init(file: String, diagnostics: [PolicyDiagnostic]) {
        self.file = file
        self.diagnostics = diagnostics.sorted()
    }

    public var description: String {
        PolicyDiagnostic.report("invalid policy \(file)", diagnostics)
    }
}
