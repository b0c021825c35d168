/// The rules that span fields of a policy (the loader checks each field alone).
/// Every rule reports all its violations; none stops at the first.
enum PolicyRules {
    static func check(_ policy: Policy) -> [PolicyDiagnostic] {
        var problems: [PolicyDiagnostic] = []
        problems += fabricNames(policy)
        problems += interfaceOwnership(policy)
        problems += prefixOwnership(policy)
        problems += duplicateEntries(policy.exempt.map(\.description), in: "exempt", policy.source)
        problems += duplicateEntries(policy.management, in: "management", policy.source)
        return problems
    }

    static func fabricNames(_ policy: Policy) -> [PolicyDiagnostic] {
        var problems: [PolicyDiagnostic] = []
        var firstUse: [String: Int] = [:]
        for (index, fabric) in policy.fabrics.enumerated() where !fabric.name.isEmpty {
            let field = "fabrics[\(index)].name"
            if !isValidFabricName(fabric.name) {
                problems.append(policy.source.diagnostic(
                    field, "'\(fabric.name)' is not a valid fabric name: use 1-32 letters, digits, '-', '_' or '.', starting with a letter or digit"))
            }
            if let first = firstUse[fabric.name] {
                problems.append(policy.source.diagnostic(
                    field, "fabric '\(fabric.name)' is declared twice (first as fabrics[\(first)])"))
            } else {
                firstUse[fabric.name] = index
            }
        }
        return problems
    }

    static func isValidFabricName(_ name: String) -> Bool {
        let bytes = Array(name.utf8)
        guard (1...32).contains(bytes.count) else { return false }
        func alnum(_ byte: UInt8) -> Bool {
            (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(byte) || (UInt8(ascii: "A")...UInt8(ascii: "Z")).contains(byte)
                || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte)
        }
        return alnum(bytes[0]) && bytes.allSatisfy { alnum($0) || $0 == UInt8(ascii: "-") || $0 == UInt8(ascii: "_") || $0 == UInt8(ascii: ".") }
    }

    static func interfaceOwnership(_ policy: Policy) -> [PolicyDiagnostic] {
        var problems: [PolicyDiagnostic] = []
        var owner: [String: (fabric: Int, field: String)] = [:]
        let management = Set(policy.management)
        for (fabricIndex, fabric) in policy.fabrics.enumerated() {
            for (index, name) in fabric.interfaces.enumerated() {
                let field = "fabrics[\(fabricIndex)].interfaces[\(index)]"
                if management.contains(name) {
                    problems.append(policy.source.diagnostic(
                        field, "interface '\(name)' is listed in management, so it can never belong to a fabric"))
                }
                if let previous = owner[name] {
                    let message = previous.fabric == fabricIndex
                        ? "interface '\(name)' is listed twice in fabric '\(fabric.name)'"
                        : "interface '\(name)' already belongs to fabric '\(policy.fabrics[previous.fabric].name)' (\(previous.field)); an interface belongs to one fabric"
                    problems.append(policy.source.diagnostic(field, message))
                } else {
                    owner[name] = (fabricIndex, field)
                }
            }
        }
        return problems
    }

    /// Two fabrics may not own the same or nested prefixes: ownership must be
    /// unambiguous. Sorting by (address, length) puts every prefix right after
    /// the prefixes that contain it, so one sweep with a stack of enclosing
    /// prefixes finds every conflict in O(n log n), which matters at 1M prefixes.
    static func prefixOwnership(_ policy: Policy) -> [PolicyDiagnostic] {
        struct Owned {
            var prefix: IPPrefix
            var fabric: Int
            var index: Int
            var field: String { "fabrics[\(fabric)].prefixes[\(index)]" }
        }
        var owned: [Owned] = []
        owned.reserveCapacity(policy.fabrics.reduce(0) { $0 + $1.prefixes.count })
        for (fabricIndex, fabric) in policy.fabrics.enumerated() {
            for (index, prefix) in fabric.prefixes.enumerated() {
                owned.append(Owned(prefix: prefix, fabric: fabricIndex, index: index))
            }
        }
        // (fabric, index) is file order: fabrics are one YAML list, each with its own prefix list.
        owned.sort { ($0.prefix, $0.fabric, $0.index) < ($1.prefix, $1.fabric, $1.index) }

        var problems: [PolicyDiagnostic] = []
        var enclosing: [Owned] = []
        for current in owned {
            while let top = enclosing.last, !top.prefix.overlaps(current.prefix) { enclosing.removeLast() }
            if let top = enclosing.last {
                // Report at whichever of the two was written later in the file.
                let (earlier, later) = (top.fabric, top.index) <= (current.fabric, current.index) ? (top, current) : (current, top)
                let other = policy.fabrics[earlier.fabric].name
                if top.prefix == current.prefix, top.fabric == current.fabric {
                    problems.append(policy.source.diagnostic(
                        later.field, "\(later.prefix) is listed twice in fabric '\(other)' (also \(earlier.field))"))
                } else if top.fabric != current.fabric {
                    let relation = top.prefix == current.prefix ? "is also owned by" : "overlaps \(earlier.prefix), owned by"
                    problems.append(policy.source.diagnostic(
                        later.field,
                        "\(later.prefix) \(relation) fabric '\(other)' (\(earlier.field), line \(policy.source.location(of: earlier.field).line)); a prefix has one owner"))
                }
            }
            enclosing.append(current)
        }
        return problems
    }

    static func duplicateEntries(_ values: [String], in field: String, _ source: PolicySource) -> [PolicyDiagnostic] {
        var seen: [String: Int] = [:]
        var problems: [PolicyDiagnostic] = []
        for (index, value) in values.enumerated() {
            if let first = seen[value] {
                problems.append(source.diagnostic("\(field)[\(index)]", "'\(value)' is listed twice (also \(field)[\(first)])"))
            } else {
                seen[value] = index
            }
        }
        return problems
    }
}
