import FabricHost
import FabricPolicy

/// The human-readable form of a compilation: the fabrics as the policy means
/// them, then each map as the kernel will hold it, then the warnings.
public enum PlanText {
    public static let defaultLimit = 20

    public static func render(policy: Policy, host: HostInventory, compilation: Compilation, limit: Int?) -> String {
        let plan = compilation.plan
        var lines: [String] = []
        lines.append(
            "policy \(policy.source.file): valid, \(count(policy.fabrics.count, "fabric")), "
                + "\(count(plan.interfaces.count, "managed interface")), \(count(plan.prefixes.count, "prefix entry", "prefix entries")), "
                + "\(count(plan.locals.count, "owned local address", "owned local addresses"))")
        lines.append("digest \(plan.digestText)")
        lines.append(
            "events " + (plan.events.rate == 0
                ? "off" : "\(plan.events.rate)/s per interface and reason, bursts of \(plan.events.burst)"))

        for (index, fabric) in policy.fabrics.enumerated() {
            let entry = plan.fabrics[index]
            let egress = fabric.effectiveEgress(policy.egress)
            let ingress = fabric.effectiveIngress(policy.ingress)
            lines.append("")
            lines.append("fabric \(fabric.name) (id \(entry.id))")
            let links = fabric.interfaces.map { name -> String in
                guard let link = host.interface(named: name) else { return "\(name) (missing)" }
                return "\(name) (ifindex \(link.index), \(link.usable ? "up" : "down"))"
            }
            lines.append("  interfaces  \(links.joined(separator: ", "))")
            lines.append("  prefixes    \(listed(fabric.prefixes, limit))")
            lines.append("  egress      \(describe(egress))")
            lines.append("  ingress     \(describe(ingress))")
            lines.append("  redirect    \(entry.redirectInterface ?? "none usable (redirects to this fabric drop as redirect_unavailable)")")
        }
        if !policy.exempt.isEmpty {
            lines.append("")
            lines.append("exempt      \(policy.exempt.map(\.description).joined(separator: ", "))")
        }
        if !policy.management.isEmpty {
            lines.append("management  \(policy.management.joined(separator: ", ")) (never attached)")
        }

        let fabricName = { (id: UInt32) -> String in id == 0 ? "no fabric" : plan.fabric(id: id)?.name ?? "fabric \(id)" }
        let ifName = { (index: UInt32) -> String in
            index == 0 ? "none" : host.interface(index: index)?.name ?? "ifindex \(index)"
        }
        lines.append("")
        lines.append("maps")
        section(&lines, "fg_interfaces", plan.interfaces, limit) { entry in
            "ifindex \(entry.ifindex) \(entry.name) -> \(entry.fabric), counter slot \(entry.counterSlot)"
        }
        section(&lines, "fg_prefixes (IPv4)", plan.prefixes.filter { $0.prefix.family == .ipv4 }, limit) { entry in
            "\(entry.prefix) -> \(fabricName(entry.fabricID))\(entry.exempt ? ", exempt" : "")"
        }
        section(&lines, "fg_prefixes (IPv6)", plan.prefixes.filter { $0.prefix.family == .ipv6 }, limit) { entry in
            "\(entry.prefix) -> \(fabricName(entry.fabricID))\(entry.exempt ? ", exempt" : "")"
        }
        section(&lines, "fg_locals", plan.locals, limit) { entry in
            "\(entry.address) on \(entry.interface) -> \(fabricName(entry.fabricID)), redirect to \(ifName(entry.redirectIfindex))"
        }
        section(&lines, "fg_fabrics", plan.fabrics, limit) { entry in
            "\(entry.id) \(entry.name), redirect to \(entry.redirectInterface ?? "none")"
        }

        lines.append("")
        if compilation.warnings.isEmpty {
            lines.append("no warnings")
        } else {
            lines.append(count(compilation.warnings.count, "warning"))
            lines += compilation.warnings.map { "  \($0)" }
        }
        return lines.joined(separator: "\n")
    }

    static func section<Entry>(
        _ lines: inout [String], _ name: String, _ entries: [Entry], _ limit: Int?,
        _ line: (Entry) -> String
    ) {
        lines.append("  \(name) (\(count(entries.count, "entry", "entries")))")
        let shown = limit.map { Array(entries.prefix($0)) } ?? entries
        lines += shown.map { "    \(line($0))" }
        if shown.count < entries.count {
            lines.append("    ... \(entries.count - shown.count) more (--full lists them all)")
        }
    }

    /// A fabric's prefixes on one line, cut at `limit` like the map sections: a policy may
    /// list a million.
    static func listed(_ prefixes: [IPPrefix], _ limit: Int?) -> String {
        let shown = limit.map { prefixes.prefix($0) } ?? prefixes[...]
        let text = shown.map(\.description).joined(separator: ", ")
        return shown.count < prefixes.count ? "\(text), ... \(prefixes.count - shown.count) more (--full lists them all)" : text
    }

    static func describe(_ settings: EgressSettings) -> String {
        settings.mode == .off
            ? "off"
            : "\(settings.mode.rawValue), violations \(settings.action.rawValue), unowned sources \(settings.unowned.rawValue)"
    }

    static func describe(_ settings: IngressSettings) -> String {
        settings.mode == .off
            ? "off"
            : "\(settings.mode.rawValue), checks \(settings.checks.isEmpty ? "none" : settings.checks.map(\.rawValue).joined(separator: ", "))"
    }

    static func count(_ value: Int, _ singular: String, _ plural: String? = nil) -> String {
        "\(value) \(value == 1 ? singular : plural ?? singular + "s")"
    }
}
