import Yams

/// Reads a policy file into a `Policy`, or reports every problem in it at once.
///
/// The YAML is walked as a node tree rather than through `Decodable` because
/// the contract is precise errors: each names file:line:column and the field,
/// unknown keys are errors (a typo such as `prefix:` must not silently mean
/// "owns nothing"), and all errors are collected in one pass.
public enum PolicyLoader {
    public static func load(path: String) throws(PolicyError) -> Policy {
        let text: String
        do {
            text = try TextFile.read(path)
        } catch {
            throw PolicyError(
                file: path,
                diagnostics: [PolicyDiagnostic(file: path, line: 1, column: 1, field: "", message: error.description)])
        }
        return try parse(yaml: text, file: path)
    }

    public static func parse(yaml: String, file: String = "<policy>") throws(PolicyError) -> Policy {
        var reader = NodeReader(file: file)
        let root: Node?
        do {
            root = try Yams.compose(yaml: yaml)
        } catch {
            throw PolicyError(file: file, diagnostics: [reader.diagnostic(forYAMLError: error)])
        }
        guard let root else {
            reader.fail(at: nil, "", "the policy is empty (it needs at least `version: 1` and `fabrics:`)")
            throw PolicyError(file: file, diagnostics: reader.diagnostics)
        }
        let policy = reader.readPolicy(root)
        guard let policy, reader.diagnostics.isEmpty else {
            throw PolicyError(file: file, diagnostics: reader.diagnostics)
        }
        return policy
    }
}

/// Walks the YAML nodes, recording a diagnostic for each problem and carrying on.
private struct NodeReader {
    let file: String
    var diagnostics: [PolicyDiagnostic] = []
    var locations: [String: SourceLocation] = [:]
    var itemLocations: [String: [SourceLocation]] = [:]

    init(file: String) { self.file = file }

    // MARK: Document

    mutating func readPolicy(_ root: Node) -> Policy? {
        guard let fields = mapping(root, "", keys: ["version", "fabrics", "egress", "ingress", "exempt", "management"])
        else { return nil }

        var version: Int?
        if let node = fields["version"] {
            if let value = integer(node, "version") {
                if value == 1 {
                    version = value
                } else {
                    fail(at: node, "version", "unsupported version \(value) (this fabricguard reads version 1)")
                }
            }
        } else {
            fail(at: root, "version", "missing (add `version: 1` at the top of the policy)")
        }

        var fabrics: [Fabric] = []
        if let node = fields["fabrics"] {
            let items = sequence(node, "fabrics") ?? []
            if items.isEmpty, node.sequence != nil {
                fail(at: node, "fabrics", "no fabric is declared")
            }
            for (index, item) in items.enumerated() {
                if let fabric = readFabric(item, "fabrics[\(index)]") { fabrics.append(fabric) }
            }
        } else {
            fail(at: root, "fabrics", "missing (declare at least one fabric with its interfaces and prefixes)")
        }

        let egress = fields["egress"].map { readEgress($0, "egress") } ?? EgressOverride()
        let ingress = fields["ingress"].map { readIngress($0, "ingress") } ?? IngressOverride()
        let exempt = fields["exempt"].map { prefixes($0, "exempt") } ?? []
        let management = fields["management"].map { interfaceNames($0, "management") } ?? []

        let policy = Policy(
            version: version ?? 1,
            fabrics: fabrics,
            egress: EgressSettings(
                mode: egress.mode ?? .enforce, action: egress.action ?? .drop, unowned: egress.unowned ?? .pass),
            ingress: IngressSettings(
                mode: ingress.mode ?? .enforce, checks: ingress.checks ?? IngressCheck.allCases,
                action: ingress.action ?? .drop),
            exempt: exempt,
            management: management,
            source: PolicySource(file: file, locations: locations, itemLocations: itemLocations)
        )
        for diagnostic in PolicyRules.check(policy) { diagnostics.append(diagnostic) }
        return policy
    }

    mutating func readFabric(_ node: Node, _ path: String) -> Fabric? {
        guard let fields = mapping(node, path, keys: ["name", "interfaces", "prefixes", "egress", "ingress"]) else {
            return nil
        }
        var name = ""
        if let value = fields["name"] {
            name = string(value, "\(path).name") ?? ""
        } else {
            fail(at: node, "\(path).name", "missing (every fabric needs a name, e.g. `name: san-a`)")
        }
        // A fabric that lists no interface enforces nothing; one that owns no
        // prefix makes every source on its interfaces foreign. Both are mistakes.
        var interfaces: [String] = []
        if let value = fields["interfaces"] {
            interfaces = interfaceNames(value, "\(path).interfaces")
            if value.sequence?.isEmpty == true {
                fail(at: value, "\(path).interfaces", "fabric '\(name)' lists no interface")
            }
        } else {
            fail(at: node, "\(path).interfaces", "missing (list the interfaces of this fabric, e.g. `interfaces: [ens1f0]`)")
        }
        var owned: [IPPrefix] = []
        if let value = fields["prefixes"] {
            owned = prefixes(value, "\(path).prefixes")
            if value.sequence?.isEmpty == true {
                fail(at: value, "\(path).prefixes", "fabric '\(name)' owns no prefix")
            }
        } else {
            fail(at: node, "\(path).prefixes", "missing (list the prefixes this fabric owns, e.g. `prefixes: [10.1.0.0/24]`)")
        }
        let egress = fields["egress"].map { readEgress($0, "\(path).egress") } ?? EgressOverride()
        let ingress = fields["ingress"].map { readIngress($0, "\(path).ingress") } ?? IngressOverride()
        return Fabric(name: name, interfaces: interfaces, prefixes: owned, egress: egress, ingress: ingress)
    }

    mutating func readEgress(_ node: Node, _ path: String) -> EgressOverride {
        guard let fields = mapping(node, path, keys: ["mode", "action", "unowned"]) else { return EgressOverride() }
        return EgressOverride(
            mode: fields["mode"].flatMap { choice($0, "\(path).mode", Mode.self) },
            action: fields["action"].flatMap { choice($0, "\(path).action", ViolationAction.self) },
            unowned: fields["unowned"].flatMap { choice($0, "\(path).unowned", UnownedAction.self) })
    }

    mutating func readIngress(_ node: Node, _ path: String) -> IngressOverride {
        guard let fields = mapping(node, path, keys: ["mode", "checks", "action"]) else { return IngressOverride() }
        var action: ViolationAction?
        if let value = fields["action"], let chosen = choice(value, "\(path).action", ViolationAction.self) {
            if chosen == .redirect {
                fail(at: value, "\(path).action", "redirect is egress-only; ingress violations can only be dropped")
            } else {
                action = chosen
            }
        }
        var checks: [IngressCheck]?
        if let value = fields["checks"] {
            let items = sequence(value, "\(path).checks") ?? []
            checks = items.enumerated().compactMap { choice($1, "\(path).checks[\($0)]", IngressCheck.self) }
        }
        return IngressOverride(
            mode: fields["mode"].flatMap { choice($0, "\(path).mode", Mode.self) }, checks: checks, action: action)
    }

    // MARK: Typed values

    mutating func prefixes(_ node: Node, _ path: String) -> [IPPrefix] {
        guard let items = sequence(node, path) else { return [] }
        var result: [IPPrefix] = []
        result.reserveCapacity(items.count)
        for (index, item) in items.enumerated() {
            // The item's path is spelled out only for a diagnostic: a policy may list a million.
            if let text = item.scalar?.string, let prefix = try? IPPrefix(parsing: text) {
                result.append(prefix)
                continue
            }
            let itemPath = "\(path)[\(index)]"
            guard let text = string(item, itemPath) else { continue }
            do {
                result.append(try IPPrefix(parsing: text))
            } catch {
                fail(at: item, itemPath, "'\(text)': \(error)")
            }
        }
        return result
    }

    mutating func interfaceNames(_ node: Node, _ path: String) -> [String] {
        guard let items = sequence(node, path) else { return [] }
        return items.enumerated().compactMap { index, item -> String? in
            let itemPath = "\(path)[\(index)]"
            guard let name = string(item, itemPath) else { return nil }
            if let problem = InterfaceName.problem(name) {
                fail(at: item, itemPath, "'\(name)' is not a valid interface name: \(problem)")
                return nil
            }
            return name
        }
    }

    mutating func choice<Value: RawRepresentable & CaseIterable>(
        _ node: Node, _ path: String, _: Value.Type
    ) -> Value? where Value.RawValue == String {
        guard let text = string(node, path) else { return nil }
        if let value = Value(rawValue: text) { return value }
        let allowed = Value.allCases.map(\.rawValue)
        fail(at: node, path, "unknown value '\(text)' (expected one of: \(allowed.joined(separator: ", ")))")
        return nil
    }

    // MARK: Node shapes

    /// A mapping's values by key; records unknown and duplicate keys. Nil if not a mapping.
    mutating func mapping(_ node: Node, _ path: String, keys allowed: [String]) -> [String: Node]? {
        record(node, path)
        guard let pairs = node.mapping else {
            fail(at: node, path, "expected a mapping with keys \(allowed.joined(separator: ", ")), found \(shape(node))")
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
                let hint = Suggestion.closest(to: key, in: allowed).map { " (did you mean '\($0)'?)" } ?? ""
                fail(at: keyNode, fieldPath, "unknown key '\(key)'\(hint); allowed here: \(allowed.joined(separator: ", "))")
                continue
            }
            record(value, fieldPath)
            fields[key] = value
        }
        return fields
    }

    mutating func sequence(_ node: Node, _ path: String) -> [Node]? {
        record(node, path)
        guard let items = node.sequence else {
            fail(at: node, path, "expected a list such as [a, b], found \(shape(node))")
            return nil
        }
        let nodes = Array(items)
        if itemLocations[path] == nil {
            itemLocations[path] = nodes.map { SourceLocation(line: $0.mark?.line ?? 1, column: $0.mark?.column ?? 1) }
        }
        return nodes
    }

    mutating func string(_ node: Node, _ path: String) -> String? {
        guard let scalar = node.scalar else {
            fail(at: node, path, "expected a single value, found \(shape(node))")
            return nil
        }
        guard !scalar.string.isEmpty else {
            fail(at: node, path, "is empty")
            return nil
        }
        return scalar.string
    }

    mutating func integer(_ node: Node, _ path: String) -> Int? {
        guard let text = string(node, path) else { return nil }
        guard let value = Int(text) else {
            fail(at: node, path, "expected a whole number, found '\(text)'")
            return nil
        }
        return value
    }

    func shape(_ node: Node) -> String {
        switch node {
        case .scalar(let scalar): "'\(scalar.string)'"
        case .mapping: "a mapping"
        case .sequence: "a list"
        case .alias: "an alias"
        }
    }

    // MARK: Diagnostics

    mutating func record(_ node: Node, _ path: String) {
        if let mark = node.mark, locations[path] == nil {
            locations[path] = SourceLocation(line: mark.line, column: mark.column)
        }
    }

    mutating func fail(at node: Node?, _ path: String, _ message: String) {
        let mark = node?.mark
        diagnostics.append(
            PolicyDiagnostic(
                file: file, line: mark?.line ?? 1, column: mark?.column ?? 1, field: path, message: message))
    }

    func diagnostic(forYAMLError error: any Error) -> PolicyDiagnostic {
        switch error as? YamlError {
        case .scanner(_, let problem, let mark, _), .parser(_, let problem, let mark, _),
            .composer(_, let problem, let mark, _):
            return PolicyDiagnostic(
                file: file, line: mark.line, column: mark.column, field: "", message: "not valid YAML: \(problem)")
        case .duplicatedKeysInMapping(let duplicates, let context):
            return PolicyDiagnostic(
                file: file, line: context.mark.line, column: context.mark.column, field: "",
                message: "key written twice in one mapping: \(duplicates.joined(separator: ", "))")
        default:
            return PolicyDiagnostic(file: file, line: 1, column: 1, field: "", message: "not valid YAML: \(error)")
        }
    }
}

/// Linux interface names: 1...15 bytes (IFNAMSIZ - 1), no '/', no whitespace, not "." or "..".
public enum InterfaceName {
    public static func problem(_ name: String) -> String? {
        if name.utf8.count > 15 { return "longer than 15 bytes" }
        if name == "." || name == ".." { return "reserved name" }
        if name.contains(where: { $0 == "/" || $0 == ":" || $0.isWhitespace }) {
            return "contains '/', ':' or whitespace"
        }
        return nil
    }
}

/// "Did you mean" for unknown keys: the closest allowed key within two edits.
enum Suggestion {
    static func closest(to word: String, in candidates: [String]) -> String? {
        let scored = candidates.map { ($0, distance(Array(word), Array($0))) }
        guard let best = scored.min(by: { $0.1 < $1.1 }), best.1 <= 2 else { return nil }
        return best.0
    }

    static func distance(_ a: [Character], _ b: [Character]) -> Int {
        var previous = Array(0...b.count)
        for (i, x) in a.enumerated() {
            var current = [i + 1]
            for (j, y) in b.enumerated() {
                current.append(min(previous[j + 1] + 1, current[j] + 1, previous[j] + (x == y ? 0 : 1)))
            }
            previous = current
        }
        return previous[b.count]
    }
}
