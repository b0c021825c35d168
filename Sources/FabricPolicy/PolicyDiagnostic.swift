/// One problem in a policy, located precisely enough for an editor to jump to:
/// `policy.yaml:7:18: fabrics[0].prefixes[1]: '10.1.0.5/24': host bits are set (did you mean 10.1.0.0/24?)`.
public struct PolicyDiagnostic: Error, Sendable, Equatable, Hashable, Codable, CustomStringConvertible {
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
}

/// Every problem found in one pass over a policy; a policy with any is never applied.
public struct PolicyError: Error, Sendable, Equatable, CustomStringConvertible {
    public var file: String
    public var diagnostics: [PolicyDiagnostic]

    public init(file: String, diagnostics: [PolicyDiagnostic]) {
        self.file = file
        self.diagnostics = diagnostics.sorted { ($0.line, $0.column, $0.field) < ($1.line, $1.column, $1.field) }
    }

    public var description: String {
        let count = diagnostics.count == 1 ? "1 error" : "\(diagnostics.count) errors"
        return (["invalid policy \(file): \(count)"] + diagnostics.map { "  \($0)" }).joined(separator: "\n")
    }
}
