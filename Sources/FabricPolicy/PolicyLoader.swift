import FabricSystem

/// Reads a policy file into a `Policy`, or reports every problem in it at once.
///
/// The YAML is walked as a node tree rather than through `Decodable` because
/// the contract is precise errors: each names file:line:column and the field,
/// unknown keys are errors (a typo such as `prefix:` must not silently mean
/// "owns nothing"), and all errors are collected in one pass.
public enum PolicyLoader {
    /// `-` reads standard input. Files over `TextFile.policyMaximumSize`, and anything but a
    /// regular file, are refused before a byte is read.
    public static func load(path: String) throws(PolicyError) -> Policy {
        let text: String
        do {
            text = try TextFile.read(path, verb: "read policy", maximumSize: TextFile.policyMaximumSize, standardInput: true)
        } catch {
            throw PolicyError(
                file: path,
                diagnostics: [PolicyDiagnostic(file: path, line: 1, column: 1, field: "", message: error.description)])
        }
        return try parse(yaml: text, file: path)
    }

    public static func parse(yaml: String, file: String = "<policy>") throws(PolicyError) -> Policy {
        var reader = NodeReader(file: file)
        guard let policy = read(yaml, with: &reader) else { throw PolicyError(file: file, diagnostics: reader.diagnostics) }
        // The rules run over the model once the document is gone: at a million
        // prefixes the document is about 40 MB, and the ownership check sorts a copy of every prefix.
        for diagnostic in PolicyRules.check(policy) { reader.append(diagnostic) }
        guard reader.diagnostics.isEmpty else { throw PolicyError(file: file, diagnostics: reader.diagnostics) }
        return policy
    }

    /// The policy as written, its fields checked one by one; the document lives only in here.
    private static func read(_ yaml: String, with reader: inout NodeReader) -> Policy? {
        let root = reader.root(
            of: yaml, emptyMessage: "the policy is empty (it needs at least `version: 1` and `fabrics:`)")
        return root.flatMap { reader.readPolicy($0) }
    }
}

/// The policy's shape, read field by field.
fileprivate extension NodeReader {
    // MARK: Document

    mutating func readPolicy(_ root: YAMLNode) -> Policy? {
        guard let fields = mapping(root, "", keys: ["version", "fabrics", "egress", "ingress", "exempt", "management", "events"])
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
            let items = sequence(node, "fabrics").map(Array.init) ?? []
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
        let events = fields["events"].map { readEvents($0, "events") } ?? EventSettings()

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
            events: events,
            source: PolicySource(file: file, locations: locations, itemLocations: itemLocations)
        )
        return policy
    }

    mutating func readFabric(_ node: YAMLNode, _ path: String) -> Fabric? {
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

    mutating func readEgress(_ node: YAMLNode, _ path: String) -> EgressOverride {
        guard let fields = mapping(node, path, keys: ["mode", "action", "unowned"]) else { return EgressOverride() }
        return EgressOverride(
            mode: fields["mode"].flatMap { choice($0, "\(path).mode", Mode.self) },
            action: fields["action"].flatMap { choice($0, "\(path).action", ViolationAction.self) },
            unowned: fields["unowned"].flatMap { choice($0, "\(path).unowned", UnownedAction.self) })
    }

    mutating func readEvents(_ node: YAMLNode, _ path: String) -> EventSettings {
        var settings = EventSettings()
        guard let fields = mapping(node, path, keys: ["rate", "burst"]) else { return settings }
        if let value = fields["rate"], let rate = integer(value, "\(path).rate") {
            if EventSettings.rates.contains(rate) {
                settings.rate = rate
            } else {
                fail(at: value, "\(path).rate", "\(rate) is out of range (events per second per interface and reason, 0 to 1000000; 0 turns events off)")
            }
        }
        if let value = fields["burst"], let burst = integer(value, "\(path).burst") {
            if EventSettings.bursts.contains(burst) {
                settings.burst = burst
            } else {
                fail(at: value, "\(path).burst", "\(burst) is out of range (1 to 1000000 events)")
            }
        }
        return settings
    }

    mutating func readIngress(_ node: YAMLNode, _ path: String) -> IngressOverride {
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
            let items = sequence(value, "\(path).checks").map(Array.init) ?? []
            checks = items.enumerated().compactMap { choice($1, "\(path).checks[\($0)]", IngressCheck.self) }
        }
        return IngressOverride(
            mode: fields["mode"].flatMap { choice($0, "\(path).mode", Mode.self) }, checks: checks, action: action)
    }

    // MARK: Typed values

    mutating func prefixes(_ node: YAMLNode, _ path: String) -> [IPPrefix] {
        // One pass over the items for their locations and values: each node
        // copied out of the tree costs reference counting, a million times.
        guard let items = sequence(node, path, locateItems: false) else { return [] }
        var result: [IPPrefix] = []
        result.reserveCapacity(items.count)
        var locations: [SourceLocation] = []
        locations.reserveCapacity(items.count)
        defer { recordItemLocations(path, locations) }
        for (index, item) in items.enumerated() {
            locations.append(item.location)
            // The item's path is spelled out only for a diagnostic: a policy may list a million.
            if let text = item.text, let prefix = try? IPPrefix(parsing: text) {
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

    mutating func interfaceNames(_ node: YAMLNode, _ path: String) -> [String] {
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
}
