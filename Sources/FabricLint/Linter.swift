import FabricHost
import FabricPolicy

/// `fabricguard lint`: the host's kernel state held against the policy. Each
/// rule reads facts (`LintFacts`, gathered by the caller) and reports what
/// would make traffic leak across fabrics or be dropped (errors) or surprise
/// the operator later (warnings), each with the command that fixes it.
public enum Linter {
    /// The route lookups lint needs: for every fabric prefix, one address in
    /// it, asked without a source and from each of this host's addresses of
    /// that fabric (the way its traffic leaves).
    public static func routeQueries(policy: Policy, host: HostInventory) -> [RouteQuery] {
        let context = Context(policy: policy, host: host)
        var queries: [RouteQuery] = []
        for fabric in policy.fabrics {
            for prefix in fabric.prefixes {
                let destination = representative(of: prefix)
                queries.append(RouteQuery(destination: destination, source: nil))
                for source in context.sources(of: fabric.name) where source.family == prefix.family {
                    queries.append(RouteQuery(destination: destination, source: source))
                }
            }
        }
        return queries
    }

    public static func lint(policy: Policy, host: HostInventory, facts: LintFacts) -> [LintFinding] {
        let context = Context(policy: policy, host: host)
        var findings = interfaces(context) + addresses(context) + routes(context, facts) + lookups(context, facts)
            + sysctls(context, facts) + iscsi(context, facts)
        // One finding per (kind, interface, prefix): a route seen by the dump and a lookup is one problem.
        var seen = Set<String>()
        findings = findings.filter { seen.insert("\($0.kind)|\($0.interface ?? "")|\($0.prefix ?? "")").inserted }
        return findings.sorted { ($0.severity, $0.kind, $0.interface ?? "", $0.prefix ?? "") < ($1.severity, $1.kind, $1.interface ?? "", $1.prefix ?? "") }
    }

    /// The policy's questions about the host, answered once.
    struct Context {
        let policy: Policy
        let host: HostInventory
        /// Owned prefixes, longest first.
        let owners: [(prefix: IPPrefix, fabric: String)]

        init(policy: Policy, host: HostInventory) {
            self.policy = policy
            self.host = host
            owners = policy.fabrics.flatMap { fabric in fabric.prefixes.map { (prefix: $0, fabric: fabric.name) } }
                .sorted { $0.prefix.length > $1.prefix.length }
        }

        func owner(_ address: IPAddress) -> String? { owners.first { $0.prefix.contains(address) }?.fabric }

        /// The fabric whose prefix holds all of `prefix`, if one does.
        func owner(_ prefix: IPPrefix) -> (prefix: IPPrefix, fabric: String)? {
            owners.first { $0.prefix.length <= prefix.length && $0.prefix.contains(prefix.address) }
        }

        func fabric(ofInterface name: String) -> String? { policy.fabric(listing: name)?.name }

        func name(_ ifindex: UInt32?) -> String? { ifindex.flatMap { index in host.interfaces.first { $0.index == index }?.name } }

        /// This host's addresses that `fabric` owns, on that fabric's interfaces.
        func sources(of fabric: String) -> [IPAddress] {
            guard let interfaces = policy.fabric(named: fabric)?.interfaces else { return [] }
            return host.interfaces.filter { interfaces.contains($0.name) }.flatMap(\.addresses).map(\.address)
                .filter { owner($0) == fabric }
        }
    }

    /// An address inside `prefix` to ask the routing table about: the first
    /// host address (the prefix itself for a host route).
    static func representative(of prefix: IPPrefix) -> IPAddress {
        let width = prefix.family == .ipv4 ? 32 : 128
        guard prefix.length < width else { return prefix.address }
        switch prefix.address {
        case .v4(let bits): return .v4(bits | 1)
        case .v6(let bits): return .v6(bits | 1)
        }
    }

    /// sysctl names an interface with dots turned into slashes (eth0.100 -> eth0/100).
    static func sysctlName(_ interface: String) -> String { interface.replacingOccurrences(of: ".", with: "/") }

    // MARK: Interfaces and addresses

    static func interfaces(_ context: Context) -> [LintFinding] {
        var findings: [LintFinding] = []
        for fabric in context.policy.fabrics {
            for name in fabric.interfaces {
                guard let interface = context.host.interface(named: name) else {
                    findings.append(LintFinding(
                        .error, "interface_missing", interface: name,
                        message: "\(name) of fabric \(fabric.name) is not on this host: its traffic is not protected and \(fabric.name) has one path less",
                        fix: "check the cabling and driver of \(name), or remove it from fabric \(fabric.name)"))
                    continue
                }
                if !interface.up {
                    findings.append(LintFinding(
                        .warning, "interface_down", interface: name,
                        message: "\(name) of fabric \(fabric.name) is administratively down: \(fabric.name) has one path less",
                        fix: "ip link set \(name) up"))
                } else if !interface.running {
                    findings.append(LintFinding(
                        .warning, "no_carrier", interface: name,
                        message: "\(name) of fabric \(fabric.name) has no carrier: \(fabric.name) has one path less",
                        fix: "check the cable and the switch port of \(name)"))
                }
            }
        }
        return findings
    }

    static func addresses(_ context: Context) -> [LintFinding] {
        var findings: [LintFinding] = []
        for fabric in context.policy.fabrics {
            var holdsOne = false
            for interface in context.host.interfaces where fabric.interfaces.contains(interface.name) {
                for address in interface.addresses {
                    guard let owner = context.owner(address.address) else { continue }
                    if owner == fabric.name {
                        holdsOne = true
                    } else {
                        findings.append(LintFinding(
                            .error, "address_on_foreign_fabric", interface: interface.name, prefix: "\(address)",
                            message: "\(address) belongs to fabric \(owner) but is configured on \(interface.name) of fabric \(fabric.name): traffic from it leaves the wrong fabric and is dropped as foreign_source",
                            fix: "ip addr del \(address) dev \(interface.name)"))
                    }
                }
            }
            if !holdsOne, let first = fabric.interfaces.first(where: { context.host.interface(named: $0) != nil }) {
                findings.append(LintFinding(
                    .warning, "policy_address_absent", interface: first,
                    prefix: fabric.prefixes.map(\.description).joined(separator: ", "),
                    message: "no interface of fabric \(fabric.name) has an address in its prefixes (\(fabric.prefixes.map(\.description).joined(separator: ", "))): this host cannot send as \(fabric.name)",
                    fix: "ip addr add ADDRESS/LENGTH dev \(first) (an address in \(fabric.prefixes[0]))"))
            }
        }
        return findings
    }

    // MARK: Routes

    static func routes(_ context: Context, _ facts: LintFacts) -> [LintFinding] {
        var findings: [LintFinding] = []
        for route in facts.routes where route.kind == .unicast && route.table != Route.localTable {
            guard let out = context.name(route.outputIfindex) else { continue }
            let outFabric = context.fabric(ofInterface: out)
            let table = route.table == Route.mainTable ? "" : " table \(route.tableName)"
            let delete = "ip\(route.destination.family == .ipv6 ? " -6" : "") route del \(route.destination) dev \(out)\(table)"
            if route.isDefault, let outFabric {
                findings.append(LintFinding(
                    .error, "default_route_on_fabric", interface: out, prefix: "\(route.destination)",
                    message: "the default route\(table) leaves through \(out) of fabric \(outFabric): traffic for anywhere else goes onto the storage fabric",
                    fix: delete))
                continue
            }
            if let owned = context.owner(route.destination), let outFabric, owned.fabric != outFabric {
                findings.append(LintFinding(
                    .error, "route_crosses_fabric", interface: out, prefix: "\(route.destination)",
                    message: "\(route.destination)\(table) is \(owned.fabric)'s (\(owned.prefix)) but the route sends it through \(out) of fabric \(outFabric): the packets cross fabrics and are dropped",
                    fix: delete))
            } else if let source = route.preferredSource, let owner = context.owner(source), let outFabric, owner != outFabric {
                findings.append(LintFinding(
                    .error, "route_source_crosses_fabric", interface: out, prefix: "\(route.destination)",
                    message: "\(route.destination)\(table) leaves through \(out) of fabric \(outFabric) with source \(source) of fabric \(owner): those packets are dropped as foreign_source",
                    fix: delete))
            } else if !route.isDefault, let owned = context.owner(route.destination), outFabric == nil {
                findings.append(LintFinding(
                    .error, "fabric_prefix_routed_outside", interface: out, prefix: "\(route.destination)",
                    message: "\(route.destination)\(table) is \(owned.fabric)'s (\(owned.prefix)) but leaves through \(out), no interface of \(owned.fabric): storage traffic goes where fabricguard does not judge it",
                    fix: delete))
            }
        }
        return findings
    }

    /// What the kernel would really do, policy routing included: a fabric's
    /// prefix with no route, or reached through another fabric from its own sources.
    static func lookups(_ context: Context, _ facts: LintFacts) -> [LintFinding] {
        var findings: [LintFinding] = []
        for fabric in context.policy.fabrics {
            for prefix in fabric.prefixes {
                let destination = representative(of: prefix)
                let first = fabric.interfaces.first { context.host.interface(named: $0) != nil } ?? fabric.interfaces[0]
                guard let answer = facts.lookups[RouteQuery(destination: destination, source: nil)] else { continue }
                guard let route = answer else {
                    // Without an address of that family on the fabric, nothing here means to reach it.
                    let used = context.sources(of: fabric.name).contains { $0.family == prefix.family }
                    findings.append(LintFinding(
                        used ? .error : .warning, "prefix_without_route", interface: first, prefix: "\(prefix)",
                        message: "\(prefix) of fabric \(fabric.name) has no route: the host cannot reach it"
                            + (used ? "" : " (and no interface of \(fabric.name) has an address of that family)"),
                        fix: "ip\(prefix.family == .ipv6 ? " -6" : "") route add \(prefix) dev \(first)"))
                    continue
                }
                if route.kind == .unicast, let out = context.name(route.outputIfindex), context.fabric(ofInterface: out) == nil {
                    findings.append(LintFinding(
                        .error, "fabric_prefix_routed_outside", interface: out, prefix: "\(prefix)",
                        message: "\(prefix) of fabric \(fabric.name) is reached through \(out), no interface of \(fabric.name) (`ip route get \(destination)`): storage traffic goes where fabricguard does not judge it",
                        fix: "ip\(prefix.family == .ipv6 ? " -6" : "") route add \(prefix) dev \(first)"))
                }
                for source in context.sources(of: fabric.name) where source.family == prefix.family {
                    guard let answer = facts.lookups[RouteQuery(destination: destination, source: source)], let route = answer,
                          route.kind == .unicast, let out = context.name(route.outputIfindex),
                          let outFabric = context.fabric(ofInterface: out), outFabric != fabric.name
                    else { continue }
                    findings.append(LintFinding(
                        .error, "route_crosses_fabric", interface: out, prefix: "\(prefix)",
                        message: "traffic from \(source) to \(prefix), both \(fabric.name)'s, leaves through \(out) of fabric \(outFabric) (`ip route get \(destination) from \(source)`, policy routing included): it is dropped",
                        fix: "ip route get \(destination) from \(source) names the route; delete it or the rule that selects it"))
                }
            }
        }
        return findings
    }

    // MARK: Sysctls

    static func sysctls(_ context: Context, _ facts: LintFacts) -> [LintFinding] {
        var findings: [LintFinding] = []
        let connected = context.policy.fabrics.flatMap { fabric in
            context.host.interfaces.filter { fabric.interfaces.contains($0.name) }.map { (fabric: fabric.name, interface: $0) }
        }
        for (fabricName, interface) in connected {
            guard let values = facts.sysctls[interface.name], let fabric = context.policy.fabric(named: fabricName) else { continue }
            let name = interface.name, key = sysctlName(interface.name)
            if values.arpIgnore < 1 && values.arpFilter == 0 {
                findings.append(LintFinding(
                    .error, "arp_flux", interface: name,
                    message: "\(name) answers ARP for every address of the host (arp_ignore \(values.arpIgnore), arp_filter 0): peers on \(fabricName) learn its MAC for other fabrics' addresses and send that traffic across",
                    fix: "sysctl -w net.ipv4.conf.\(key).arp_ignore=1"))
            }
            if values.arpAnnounce < 2 {
                findings.append(LintFinding(
                    .error, "arp_announce", interface: name,
                    message: "\(name) may name another fabric's address as the sender of its ARP requests (arp_announce \(values.arpAnnounce)): fabricguard drops those, and the neighbour never resolves",
                    fix: "sysctl -w net.ipv4.conf.\(key).arp_announce=2"))
            }
            // Strict reverse-path filtering drops return traffic that arrives on
            // another interface than the route back: redirect and shared subnets make exactly that.
            let redirects = fabric.effectiveEgress(context.policy.egress).action == .redirect
            let shared = interface.addresses.contains { address in
                connected.contains { other in
                    other.interface.name != name && other.interface.addresses.contains { $0.prefix == address.prefix }
                }
            }
            if values.rpFilter == 1 && (redirects || shared) {
                findings.append(LintFinding(
                    .error, "rp_filter_strict", interface: name,
                    message: "\(name) filters reverse paths strictly (rp_filter 1) while \(redirects ? "fabric \(fabricName) redirects" : "its subnet is on another interface too"): replies arriving on the other path are dropped",
                    fix: "sysctl -w net.ipv4.conf.\(key).rp_filter=2"))
            }
            if values.forwardingIPv4 != 0 || (values.forwardingIPv6 ?? 0) != 0 {
                let family = values.forwardingIPv4 != 0 ? "ipv4" : "ipv6"
                findings.append(LintFinding(
                    .warning, "forwarding", interface: name,
                    message: "\(name) forwards \(family == "ipv4" ? "IPv4" : "IPv6") packets: the host can route between its fabrics",
                    fix: "sysctl -w net.\(family).conf.\(key).forwarding=0"))
            }
            if let acceptRA = values.acceptRA, acceptRA > 0 {
                findings.append(LintFinding(
                    .warning, "accept_ra", interface: name,
                    message: "\(name) accepts IPv6 router advertisements (accept_ra \(acceptRA)): a router on \(fabricName) can add a default route or addresses through the storage fabric",
                    fix: "sysctl -w net.ipv6.conf.\(key).accept_ra=0"))
            }
        }
        return findings
    }

    // MARK: iSCSI

    static func iscsi(_ context: Context, _ facts: LintFacts) -> [LintFinding] {
        var findings = facts.unreadableIscsi.map { path in
            LintFinding(
                .warning, "iscsi_iface_unreadable", prefix: path,
                message: "the iSCSI interface binding \(path) cannot be read: its sessions were not checked", fix: "ls -l \(path)")
        }
        for binding in facts.iscsi {
            guard let interface = binding.interface, let fabric = context.fabric(ofInterface: interface) else { continue }
            if let address = binding.address, let owner = context.owner(address), owner != fabric {
                let right = context.policy.fabric(named: owner)?.interfaces.first ?? "an interface of \(owner)"
                findings.append(LintFinding(
                    .error, "iscsi_binding_crosses_fabric", interface: interface, prefix: binding.file,
                    message: "\(binding.file) binds iSCSI sessions to \(interface) of fabric \(fabric) with address \(address) of fabric \(owner): they leave the wrong fabric and are dropped",
                    fix: "edit \(binding.file): iface.net_ifacename = \(right)"))
            }
        }
        return findings
    }
}
