import ArgumentParser
import FabricHost
import FabricLint
import FabricNetlink
import FabricPolicy

struct Lint: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Hold this host's routes, addresses, ARP and rp_filter settings and iSCSI bindings against a policy.",
        discussion: """
            What fabricguard cannot fix by dropping packets, found before traffic breaks.
            Errors (traffic will leak across fabrics or be dropped):
              interface_missing, address_on_foreign_fabric, default_route_on_fabric,
              route_crosses_fabric (a route, or a lookup with a fabric's own source,
              policy rules included, sends its prefix through another fabric),
              route_source_crosses_fabric (a route's src is another fabric's),
              fabric_prefix_routed_outside, prefix_without_route, arp_flux,
              arp_announce, rp_filter_strict (with redirect or a shared subnet),
              iscsi_binding_crosses_fabric (/etc/iscsi/ifaces or --iscsi-ifaces).
            Warnings: interface_down, no_carrier, policy_address_absent, forwarding,
            accept_ra, iscsi_iface_unreadable.
            Each finding names the interface or prefix, says why it matters, and gives
            the command that fixes it. Reads only; needs no privileges.

            Exit status: 0 no error (warnings allowed), 4 errors found, 2 a bad policy.

            Examples:
              fabricguard lint --policy /etc/fabricguard/fabrics.yaml
              fabricguard lint --policy fabrics.yaml --json | jq '.findings[] | select(.severity == "error")'
            """
    )

    @Option(name: .long, help: ArgumentHelp("The policy file (YAML).", valueName: "file"))
    var policy: String

    @Option(name: .long, help: ArgumentHelp("open-iscsi's interface bindings.", valueName: "directory"))
    var iscsiIfaces = "/etc/iscsi/ifaces"

    @OptionGroup var output: OutputOptions

    struct Report: Encodable {
        var policy: String
        var errors: Int
        var warnings: Int
        var findings: [LintFinding]
    }

    func run() throws {
        let parsed = try PolicyOptions.loadPolicy(path: policy)
        let findings: [LintFinding]
        do {
            let live = LiveHost()
            let host = try live.inventory()
            var facts = LintFacts(routes: try live.routes())
            for query in Linter.routeQueries(policy: parsed, host: host) {
                facts.lookups[query] = .some(try live.route(to: query.destination, from: query.source))
            }
            for name in parsed.fabrics.flatMap(\.interfaces) {
                facts.sysctls[name] = InterfaceSysctls.read(interface: name)
            }
            (facts.iscsi, facts.unreadableIscsi) = IscsiBinding.read(directory: iscsiIfaces)
            findings = Linter.lint(policy: parsed, host: host, facts: facts)
        } catch {
            throw CommandFailure(status: .runtimeFailure, message: "lint: read the host: \(error)")
        }
        let errors = findings.filter { $0.severity == .error }.count
        let report = Report(policy: policy, errors: errors, warnings: findings.count - errors, findings: findings)
        if output.json {
            try JSONOutput.print(report)
        } else {
            print("lint \(policy): \(errors) error\(errors == 1 ? "" : "s"), \(report.warnings) warning\(report.warnings == 1 ? "" : "s")")
            for finding in findings {
                let place = [finding.interface, finding.prefix].compactMap { $0 }.joined(separator: " ")
                print("\(finding.severity.rawValue) \(finding.kind)\(place.isEmpty ? "" : " (\(place))"): \(finding.message)")
                print("  fix: \(finding.fix)")
            }
        }
        if errors > 0 { throw CommandFailure(status: .degraded, message: "") }
    }
}
