import Yams

/// Walks a YAML (or JSON, a subset of it) node tree, recording a diagnostic for each problem
/// and carrying on, so that one pass reports everything wrong with a file, each problem at its
/// file:line:column and field path. The policy loader and the host file reader are its two
/// users; each adds its document's shape in an extension.
public struct NodeReader {
    /// How messages name a node's shape: a policy is written as YAML, a host file as JSON.
    public enum Vocabulary: Sendable {
        case yaml, json
    }

    public let file: String
    public let vocabulary: Vocabulary
    public private(set) var diagnostics: [PolicyDiagnostic] = []
    /// Where each field path was written, for diagnostics found after reading.
    public private(set) var locations: [String: SourceLocation] = [:]
    /// Where each item of a list was written, by the list's path.
    public private(set) var itemLocations: [String: [SourceLocation]] = [:]

    public init(file: String, vocabulary: Vocabulary = .yaml) {
        self.file = file
        self.vocabulary = vocabulary
    }

    // MARK: Document

    /// The document's root node; nil, with a diagnostic, when the text is not YAML or is empty.
    public mutating func root(of text: String, emptyMessage: String) -> Node? {
        if let violation = YAMLLimits.check(text) {
            diagnostics.append(
                PolicyDiagnostic(file: file, line: violation.line, column: violation.column, field: "", message: violation.message))
            return nil
        }
        let root: Node?
        do {
            root = try Yams.compose(yaml: text)
        } catch {
            diagnostics.append(diagnostic(forYAMLError: error, in: text))
            return nil
        }
        guard let root else {
            fail(at: nil, "", emptyMessage)
            return nil
        }
        return root
    }

    // MARK: Node shapes

    /// A mapping's values by key; records unknown and duplicate keys. Nil if not a mapping.
    public mutating func mapping(_ node: Node, _ path: String, keys allowed: [String]) -> [String: Node]? {
        record(node, path)
        guard let pairs = node.mapping else {
            fail(at: node, path, "expected \(words.mapping) with keys \(allowed.joined(separator: ", ")), found \(shape(node))")
            return nil
        }
        var fields: [String: Node] = [:]
        for (keyNode, value) in pairs {
            guard let key = keyNode.scalar?.string else {
                fail(at: keyNode, path, "keys must be plain names, found \(shape(keyNode))")
                continue
            }
            let fieldPath = path.isEmpty ? key : "\(path).\(key)"
            guard allowed.contains(key) else {
                let hint = Spelling.closest(to: key, among: allowed).map { " (did you mean '\($0)'?)" } ?? ""
                fail(at: keyNode, fieldPath, "unknown key '\(key)'\(hint); allowed here: \(allowed.joined(separator: ", "))")
                continue
            }
            record(value, fieldPath)
            fields[key] = value
        }
        return fields
    }

    /// The value of a required field; records it as missing, with `hint` saying what to write.
    public mutating func required(
        _ fields: [String: Node], _ key: String, of node: Node, _ path: String, hint: String? = nil
    ) -> Node? {
        if let value = fields[key] { return value }
        fail(at: node, path.isEmpty ? key : "\(path).\(key)", hint.map { "missing (\($0))" } ?? "required field is missing")
        return nil
    }

    /// The items of a list, as the tree holds them: not copied into an array
    /// (a list of a million prefixes is 70 MB of nodes).
    /// `locateItems: false` leaves recording the items' locations to the caller
    /// (`recordItemLocations`), for a caller that walks the items anyway.
    public mutating func sequence(_ node: Node, _ path: String, locateItems: Bool = true) -> Node.Sequence? {
        record(node, path)
        guard let items = node.sequence else {
            fail(at: node, path, "expected \(words.list), found \(shape(node))")
            return nil
        }
        if locateItems, itemLocations[path] == nil {
            var locations: [SourceLocation] = []
            locations.reserveCapacity(items.count)
            for item in items { locations.append(SourceLocation(line: item.mark?.line ?? 1, column: item.mark?.column ?? 1)) }
            itemLocations[path] = locations
        }
        return items
    }

    /// Where each item of the list at `path` was written, unless already known.
    public mutating func recordItemLocations(_ path: String, _ locations: [SourceLocation]) {
        if itemLocations[path] == nil { itemLocations[path] = locations }
    }

    // MARK: Scalars

    /// A non-empty scalar's text. In JSON only a quoted string is a string; in YAML any scalar
    /// is, since a policy author writes `name: 1` meaning the text.
    public mutating func string(_ node: Node, _ path: String) -> String? {
        guard let scalar = node.scalar, vocabulary == .yaml || kind(of: scalar) == .string else {
            fail(at: node, path, "expected \(words.string), found \(shape(node))")
            return nil
        }
        guard !scalar.string.isEmpty else {
            fail(at: node, path, "is empty")
            return nil
        }
        return scalar.string
    }

    /// A whole number; in JSON an unquoted one.
    public mutating func integer(_ node: Node, _ path: String) -> Int? {
        guard let scalar = node.scalar, vocabulary == .yaml || kind(of: scalar) == .number else {
            fail(at: node, path, "expected an integer, found \(shape(node))")
            return nil
        }
        // Decimal as written by people and by JSON: `010` (octal to YAML 1.1, invalid JSON)
        // and `+8` are refused rather than read as 10 and 8.
        let text = scalar.string
        let unsigned = text.hasPrefix("-") ? text.dropFirst() : Substring(text)
        let leadingZero = unsigned.count > 1 && unsigned.hasPrefix("0")
        guard let value = Int(text), !text.hasPrefix("+"), !leadingZero else {
            fail(at: node, path, "expected an integer, found \(vocabulary == .json ? text : shape(node))"
                + (leadingZero ? " (leading zeros are not allowed)" : ""))
            return nil
        }
        return value
    }

    public mutating func boolean(_ node: Node, _ path: String) -> Bool? {
        guard let scalar = node.scalar, kind(of: scalar) == .boolean, let value = node.bool else {
            fail(at: node, path, "expected true or false, found \(shape(node))")
            return nil
        }
        return value
    }

    /// Whether an optional field is written as null (JSON's way of saying "none").
    public func isNull(_ node: Node) -> Bool {
        node.scalar.map { kind(of: $0) == .null } ?? false
    }

    public mutating func choice<Value: RawRepresentable & CaseIterable>(
        _ node: Node, _ path: String, _: Value.Type
    ) -> Value? where Value.RawValue == String {
        guard let text = string(node, path) else { return nil }
        if let value = Value(rawValue: text) { return value }
        let allowed = Value.allCases.map(\.rawValue)
        fail(at: node, path, "unknown value '\(text)' (expected one of: \(allowed.joined(separator: ", ")))")
        return nil
    }

    /// What a node is, in the words of the file's language: `'eth0'` or `a list` in a policy,
    /// `a string` or `an array` in a host file.
    public func shape(_ node: Node) -> String {
        switch node {
        case .scalar(let scalar):
            guard vocabulary == .json else { return "'\(scalar.string)'" }
            switch kind(of: scalar) {
            case .string: return "a string"
            case .number: return "a number"
            case .boolean: return "true or false"
            case .null: return "null"
            }
        case .mapping: return words.mapping
        case .sequence: return vocabulary == .json ? "an array" : "a list"
        case .alias: return "an alias"
        }
    }

    private enum ScalarKind {
        case string, number, boolean, null
    }

    /// YAML's resolution of a plain scalar, under which JSON's literals mean what they do in JSON.
    private func kind(of scalar: Node.Scalar) -> ScalarKind {
        if scalar.style != .plain && scalar.style != .any { return .string }
        let node = Node.scalar(scalar)
        if node.null != nil { return .null }
        if node.bool != nil { return .boolean }
        if node.int != nil || node.float != nil { return .number }
        return .string
    }

    private var words: (mapping: String, list: String, string: String) {
        switch vocabulary {
        case .yaml: ("a mapping", "a list such as [a, b]", "a single value")
        case .json: ("an object", "an array", "a string")
        }
    }

    // MARK: Diagnostics

    public mutating func record(_ node: Node, _ path: String) {
        if let mark = node.mark, locations[path] == nil {
            locations[path] = SourceLocation(line: mark.line, column: mark.column)
        }
    }

    public mutating func fail(at node: Node?, _ path: String, _ message: String) {
        let mark = node?.mark
        diagnostics.append(
            PolicyDiagnostic(
                file: file, line: mark?.line ?? 1, column: mark?.column ?? 1, field: path, message: message))
    }

    public mutating func append(_ diagnostic: PolicyDiagnostic) {
        diagnostics.append(diagnostic)
    }

    private func diagnostic(forYAMLError error: any Error, in text: String) -> PolicyDiagnostic {
        switch error as? YamlError {
        case .reader(let problem, let offset, let value, _):
            // Never Yams' own description: it quotes the offending line, which may be 50 MB of NULs.
            let (line, column) = offset.map { Self.position(ofByte: $0, in: text) } ?? (1, 1)
            let hex = String(value, radix: 16, uppercase: true)
            let character = value >= 0 ? " (U+\(String(repeating: "0", count: max(0, 4 - hex.count)))\(hex))" : ""
            return PolicyDiagnostic(
                file: file, line: line, column: column, field: "", message: "not valid \(language): \(problem)\(character)")
        case .scanner(_, let problem, let mark, _), .parser(_, let problem, let mark, _),
            .composer(_, let problem, let mark, _):
            return PolicyDiagnostic(
                file: file, line: mark.line, column: mark.column, field: "", message: "not valid \(language): \(problem)")
        case .duplicatedKeysInMapping(let duplicates, let context):
            return PolicyDiagnostic(
                file: file, line: context.mark.line, column: context.mark.column, field: "",
                message: "key written twice in one \(vocabulary == .json ? "object" : "mapping"): \(duplicates.joined(separator: ", "))")
        default:
            return PolicyDiagnostic(file: file, line: 1, column: 1, field: "", message: "not valid \(language): \(error)")
        }
    }

    /// Line and column (1-based, in characters) of a byte offset.
    static func position(ofByte offset: Int, in text: String) -> (line: Int, column: Int) {
        var line = 1, column = 1
        for byte in text.utf8.prefix(offset) {
            if byte == 0x0a {
                line += 1
                column = 1
            } else if byte & 0xc0 != 0x80 {
                column += 1
            }
        }
        return (line, column)
    }

    private var language: String { vocabulary == .json ? "JSON" : "YAML" }
}
