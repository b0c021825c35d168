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

    /// The document's root node; nil, with a diagnostic, when the text is not YAML, crosses a
    /// `YAMLLimits` bound or is empty.
    public mutating func root(of text: String, emptyMessage: String) -> YAMLNode? {
        switch YAMLDocument.compose(text) {
        case .failure(let failure):
            diagnostics.append(diagnostic(for: failure))
            return nil
        case .success(let document):
            guard let root = document.root else {
                fail(at: nil, "", emptyMessage)
                return nil
            }
            return root
        }
    }

    // MARK: Node shapes

    /// A mapping's values by key; records unknown and duplicate keys. Nil if not a mapping.
    public mutating func mapping(_ node: YAMLNode, _ path: String, keys allowed: [String]) -> [String: YAMLNode]? {
        record(node, path)
        guard let pairs = node.mapping else {
            fail(at: node, path, "expected \(words.mapping) with keys \(allowed.joined(separator: ", ")), found \(shape(node))")
            return nil
        }
        var fields: [String: YAMLNode] = [:]
        for (keyNode, value) in pairs {
            guard let key = keyNode.text else {
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
        _ fields: [String: YAMLNode], _ key: String, of node: YAMLNode, _ path: String, hint: String? = nil
    ) -> YAMLNode? {
        if let value = fields[key] { return value }
        fail(at: node, path.isEmpty ? key : "\(path).\(key)", hint.map { "missing (\($0))" } ?? "required field is missing")
        return nil
    }

    /// The items of a list, as the document holds them: not copied into an array
    /// (a policy may list a million prefixes).
    /// `locateItems: false` leaves recording the items' locations to the caller
    /// (`recordItemLocations`), for a caller that walks the items anyway.
    public mutating func sequence(_ node: YAMLNode, _ path: String, locateItems: Bool = true) -> YAMLNode.Items? {
        record(node, path)
        guard let items = node.sequence else {
            fail(at: node, path, "expected \(words.list), found \(shape(node))")
            return nil
        }
        if locateItems, itemLocations[path] == nil {
            var locations: [SourceLocation] = []
            locations.reserveCapacity(items.count)
            for item in items { locations.append(item.location) }
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
    public mutating func string(_ node: YAMLNode, _ path: String) -> String? {
        guard let text = node.text, vocabulary == .yaml || kind(of: node) == .string else {
            fail(at: node, path, "expected \(words.string), found \(shape(node))")
            return nil
        }
        guard !text.isEmpty else {
            fail(at: node, path, "is empty")
            return nil
        }
        return text
    }

    /// A whole number; in JSON an unquoted one.
    public mutating func integer(_ node: YAMLNode, _ path: String) -> Int? {
        guard let text = node.text, vocabulary == .yaml || kind(of: node) == .number else {
            fail(at: node, path, "expected an integer, found \(shape(node))")
            return nil
        }
        // Decimal as written by people and by JSON: `010` (octal to YAML 1.1, invalid JSON)
        // and `+8` are refused rather than read as 10 and 8.
        let unsigned = text.hasPrefix("-") ? text.dropFirst() : Substring(text)
        let leadingZero = unsigned.count > 1 && unsigned.hasPrefix("0")
        guard let value = Int(text), !text.hasPrefix("+"), !leadingZero else {
            fail(at: node, path, "expected an integer, found \(vocabulary == .json ? text : shape(node))"
                + (leadingZero ? " (leading zeros are not allowed)" : ""))
            return nil
        }
        return value
    }

    public mutating func boolean(_ node: YAMLNode, _ path: String) -> Bool? {
        guard kind(of: node) == .boolean, let value = node.bool else {
            fail(at: node, path, "expected true or false, found \(shape(node))")
            return nil
        }
        return value
    }

    /// Whether an optional field is written as null (JSON's way of saying "none").
    public func isNull(_ node: YAMLNode) -> Bool {
        kind(of: node) == .null
    }

    public mutating func choice<Value: RawRepresentable & CaseIterable>(
        _ node: YAMLNode, _ path: String, _: Value.Type
    ) -> Value? where Value.RawValue == String {
        guard let text = string(node, path) else { return nil }
        if let value = Value(rawValue: text) { return value }
        let allowed = Value.allCases.map(\.rawValue)
        fail(at: node, path, "unknown value '\(text)' (expected one of: \(allowed.joined(separator: ", ")))")
        return nil
    }

    public func shape(_ node: YAMLNode) -> String {
        switch node.kind {
        case .scalar:
            guard vocabulary == .json else { return "'\(node.text ?? "")'" }
            switch kind(of: node) {
            case .string: return "a string"
            case .number: return "a number"
            case .boolean: return "true or false"
            case .null: return "null"
            }
        case .mapping: return words.mapping
        case .sequence: return vocabulary == .json ? "an array" : "a list"
        }
    }

    private func kind(of node: YAMLNode) -> YAMLNode.Resolved {
        node.resolved ?? .string
    }

    private var words: (mapping: String, list: String, string: String) {
        switch vocabulary {
        case .yaml: ("a mapping", "a list such as [a, b]", "a single value")
        case .json: ("an object", "an array", "a string")
        }
    }

    // MARK: Diagnostics

    public mutating func record(_ node: YAMLNode, _ path: String) {
        if locations[path] == nil { locations[path] = node.location }
    }

    public mutating func fail(at node: YAMLNode?, _ path: String, _ message: String) {
        let location = node?.location ?? SourceLocation(line: 1, column: 1)
        diagnostics.append(
            PolicyDiagnostic(file: file, line: location.line, column: location.column, field: path, message: message))
    }

    public mutating func append(_ diagnostic: PolicyDiagnostic) {
        diagnostics.append(diagnostic)
    }

    private func diagnostic(for failure: YAMLDocument.Failure) -> PolicyDiagnostic {
        let message: String
        switch failure.reason {
        case .limit(let limit):
            message = limit
        case .encoding(let problem, let value):
            let hex = String(value, radix: 16, uppercase: true)
            let character = value >= 0 ? " (U+\(String(repeating: "0", count: max(0, 4 - hex.count)))\(hex))" : ""
            message = "not valid \(language): \(problem)\(character)"
        case .syntax(let problem):
            message = "not valid \(language): \(problem)"
        case .repeatedKeys(let keys):
            message = "key written twice in one \(vocabulary == .json ? "object" : "mapping"): \(keys.joined(separator: ", "))"
        }
        return PolicyDiagnostic(file: file, line: failure.line, column: failure.column, field: "", message: message)
    }

    private var language: String { vocabulary == .json ? "JSON" : "YAML" }
}
