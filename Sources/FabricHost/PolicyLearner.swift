import FabricPolicy

/// `fabricguard learn`: a first policy proposed from what the host is now.
/// Interfaces whose connected prefixes meet (equal or nested) form one
/// fabric, owning those prefixes; interfaces that carry a default route are
/// management; both directions are in audit mode, so applying it changes no
/// packet's fate and `stats`/`events` show what enforcing would do. Every
/// line says which fact of the host it came from.
public enum PolicyLearner {
    public struct Proposal: Sendable, Equatable {
        /// The policy file, comments included.
        public var yaml: String
        public var fabrics: Int
    }

    public struct NothingToLearn: Error, CustomStringConvertible {
        public var description: String
    }

    static let loopback = [IPPrefix(covering: IPAddress("127.0.0.0")!, length: 8), IPPrefix(covering: IPAddress("::1")!, length: 128)]

    /// `defaultRoutes` names the interfaces that carry a default route (either family).
    public static func learn(host: HostInventory, defaultRoutes: Set<String>) throws(NothingToLearn) -> Proposal {
        let management = host.interfaces.filter { defaultRoutes.contains($0.name) }.map(\.name).sorted()
        // Candidates: a usable address that is neither link-local nor loopback, off management.
        var candidates: [(interface: HostInterface, addresses: [HostAddress])] = []
        var skipped: [String] = []
        for interface in host.interfaces where interface.name != "lo" && !defaultRoutes.contains(interface.name) {
            let addresses = interface.addresses.filter { address in
                !IPPrefix.ipv6LinkLocal.contains(address.address) && !loopback.contains { $0.contains(address.address) }
            }
            if addresses.isEmpty { skipped.append(interface.name) } else { candidates.append((interface, addresses)) }
        }
        guard !candidates.isEmpty else {
            throw NothingToLearn(description: "no interface outside management has an address to learn a fabric from"
                + (skipped.isEmpty ? "" : " (without one: \(skipped.joined(separator: ", ")))"))
        }

        // Union-find over interfaces whose connected prefixes are equal or nested.
        var group = Array(candidates.indices)
        func root(_ index: Int) -> Int { group[index] == index ? index : root(group[index]) }
        for a in candidates.indices {
            for b in candidates.indices where b > a {
                let meet = candidates[a].addresses.contains { left in
                    candidates[b].addresses.contains { right in left.prefix.contains(right.address) || right.prefix.contains(left.address) }
                }
                if meet { group[root(b)] = root(a) }
            }
        }
        var members: [Int: [Int]] = [:]
        for index in candidates.indices { members[root(index), default: []].append(index) }
        let groups = members.values.map { $0.sorted() }.sorted { $0[0] < $1[0] }

        var lines = [
            "# fabricguard policy learnt from \(host.hostname ?? "this host"): review it, apply it (audit mode changes",
            "# nothing), watch `fabricguard stats` and `fabricguard events`, then set the modes to enforce.",
            "version: 1",
            "fabrics:",
        ]
        for (number, indices) in groups.enumerated() {
            let names = indices.map { candidates[$0].interface.name }
            // The widest connected prefixes: a nested one adds nothing and two owners' overlap is an error.
            let prefixes = indices.flatMap { index in candidates[index].addresses.map { (address: $0, interface: candidates[index].interface.name) } }
            var owned: [(prefix: IPPrefix, facts: [String])] = []
            for (address, interface) in prefixes.sorted(by: { $0.address.prefixLength < $1.address.prefixLength }) {
                let fact = "\(interface) has \(address)"
                if let index = owned.firstIndex(where: { $0.prefix.contains(address.address) }) {
                    owned[index].facts.append(fact)
                } else {
                    owned.append((address.prefix, [fact]))
                }
            }
            lines.append("  # \(names.count == 1 ? "\(names[0]) shares its subnets with no other interface" : "\(names.joined(separator: ", ")) share subnets")")
            lines.append("  - name: \(fabricName(names[0], number: number + 1))")
            lines.append("    interfaces: [\(names.joined(separator: ", "))]")
            lines.append("    prefixes:")
            for entry in owned.sorted(by: { ($0.prefix.address, $0.prefix.length) < ($1.prefix.address, $1.prefix.length) }) {
                lines.append("      # connected: \(entry.facts.joined(separator: "; "))")
                lines.append("      - \"\(entry.prefix)\"")
            }
        }
        lines += [
            "# audit: violations pass and are counted as would_drop; set enforce once stats and events look right",
            "egress: { mode: audit, action: drop, unowned: pass }",
            "ingress: { mode: audit, checks: [source, destination] }",
            "# DHCP (0.0.0.0), IPv6 duplicate address detection (::) and link-local traffic always pass",
            "exempt: [0.0.0.0/32, \"::/128\", \"fe80::/10\"]",
        ]
        if management.isEmpty {
            lines.append("# no interface carries a default route: name your management interfaces here")
            lines.append("management: []")
        } else {
            lines.append("# \(management.joined(separator: ", ")) carr\(management.count == 1 ? "ies" : "y") a default route: never attached")
            lines.append("management: [\(management.joined(separator: ", "))]")
        }
        if !skipped.isEmpty { lines.append("# not proposed (no address to learn from): \(skipped.joined(separator: ", "))") }
        return Proposal(yaml: lines.joined(separator: "\n") + "\n", fabrics: groups.count)
    }

    /// "san-" and the first interface's name, kept to the policy's name rule.
    static func fabricName(_ interface: String, number: Int) -> String {
        let allowed = interface.filter { $0.isASCII && ($0.isLetter || $0.isNumber || "._-".contains($0)) }
        return allowed.isEmpty ? "fabric-\(number)" : String("san-\(allowed)".prefix(32))
    }
}
