import Foundation
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// `lint` on a lab host: clean, it finds nothing; with every misconfiguration
/// at once it finds each with its severity; each suggested fix removes exactly
/// its own finding.
@Suite("Kernel tier: lint", .enabled(if: KernelGate.enabled, KernelGate.skipMessage), .serialized)
struct LintTests {
    struct Finding: Hashable, CustomStringConvertible {
        var severity: String
        var kind: String
        var interface: String
        var prefix: String
        var description: String { "\(severity) \(kind) \(interface) \(prefix)" }
    }

    func lint(_ lab: Lab, _ policy: String, iscsi: String) throws -> (status: Int32, findings: Set<Finding>, fixes: [Finding: String]) {
        // A link just set up or down shows its carrier at once, its operstate (IFF_RUNNING,
        // which lint reads) only once the kernel's linkwatch has run: wait for that.
        try lab.settleLinks(.host)
        let result = try lab.fabricguard("lint", "--policy", policy, "--iscsi-ifaces", iscsi, "--json")
        let report = try #require(try JSONSerialization.jsonObject(with: Data(result.output.utf8)) as? [String: Any], "\(result.output)")
        var findings = Set<Finding>(), fixes: [Finding: String] = [:]
        for item in report["findings"] as? [[String: Any]] ?? [] {
            let finding = Finding(
                severity: item["severity"] as? String ?? "", kind: item["kind"] as? String ?? "",
                interface: item["interface"] as? String ?? "", prefix: item["prefix"] as? String ?? "")
            findings.insert(finding)
            fixes[finding] = item["fix"] as? String
        }
        return (result.status, findings, fixes)
    }

    @Test func eachMisconfigurationIsFoundAndEachFixRemovesExactlyItsFinding() throws {
        let lab = try Lab("lint")
        defer { lab.close() }
        let policy = try lab.policy("redirect.yaml", action: "redirect")
        let iscsi = lab.directory.appendingPathComponent("ifaces").path
        try FileManager.default.createDirectory(atPath: iscsi, withIntermediateDirectories: true)
        // A clean host: ARP pinned to each NIC, no router advertisements, a binding that matches the cabling.
        for interface in ["sana0", "sanb0"] {
            try lab.must(.host, ["sysctl", "-qw", "net.ipv4.conf.\(interface).arp_ignore=1", "net.ipv4.conf.\(interface).arp_announce=2",
                                 "net.ipv6.conf.\(interface).accept_ra=0"])
        }
        try "iface.iscsi_ifacename = fabric-b\niface.net_ifacename = sanb0\niface.ipaddress = 10.2.0.10\n"
            .write(toFile: "\(iscsi)/fabric-b", atomically: true, encoding: .utf8)
        let clean = try lint(lab, policy, iscsi: iscsi)
        #expect(clean.status == 0 && clean.findings.isEmpty, "\(clean.findings)")

        // Everything at once.
        try lab.misroute()  // 10.2.0.100/32 and fd00:b::100/128 through sana0, src SAN-B
        try lab.must(.host, ["ip", "route", "add", "198.51.100.0/24", "dev", "sana0", "src", "10.2.0.10"])
        try lab.must(.host, ["ip", "route", "add", "default", "dev", "sanb0"])
        try lab.must(.host, ["ip", "addr", "add", "10.1.0.77/32", "dev", "sanb0"])
        try lab.must(.host, ["sysctl", "-qw", "net.ipv4.conf.sana0.arp_ignore=0", "net.ipv4.conf.sanb0.arp_announce=1",
                             "net.ipv4.conf.sana0.rp_filter=1", "net.ipv4.conf.sanb0.forwarding=1", "net.ipv6.conf.sana0.accept_ra=1"])
        try "iface.iscsi_ifacename = fabric-b\niface.net_ifacename = sana0\niface.ipaddress = 10.2.0.10\n"
            .write(toFile: "\(iscsi)/fabric-b", atomically: true, encoding: .utf8)
        try FileManager.default.createDirectory(atPath: "\(iscsi)/broken", withIntermediateDirectories: true)  // unreadable as a file

        let expected: Set<Finding> = [
            Finding(severity: "error", kind: "route_crosses_fabric", interface: "sana0", prefix: "10.2.0.100/32"),
            Finding(severity: "error", kind: "route_crosses_fabric", interface: "sana0", prefix: "fd00:b::100/128"),
            Finding(severity: "error", kind: "route_source_crosses_fabric", interface: "sana0", prefix: "198.51.100.0/24"),
            Finding(severity: "error", kind: "default_route_on_fabric", interface: "sanb0", prefix: "0.0.0.0/0"),
            Finding(severity: "error", kind: "address_on_foreign_fabric", interface: "sanb0", prefix: "10.1.0.77/32"),
            Finding(severity: "error", kind: "arp_flux", interface: "sana0", prefix: ""),
            Finding(severity: "error", kind: "arp_announce", interface: "sanb0", prefix: ""),
            Finding(severity: "error", kind: "rp_filter_strict", interface: "sana0", prefix: ""),
            Finding(severity: "warning", kind: "forwarding", interface: "sanb0", prefix: ""),
            Finding(severity: "warning", kind: "accept_ra", interface: "sana0", prefix: ""),
            Finding(severity: "error", kind: "iscsi_binding_crosses_fabric", interface: "sana0", prefix: "\(iscsi)/fabric-b"),
            Finding(severity: "warning", kind: "iscsi_iface_unreadable", interface: "", prefix: "\(iscsi)/broken"),
        ]
        var state = try lint(lab, policy, iscsi: iscsi)
        #expect(state.status == 4)
        #expect(state.findings == expected, "missing: \(expected.subtracting(state.findings)); extra: \(state.findings.subtracting(expected))")

        // Each fix, as lint words it where it is a command; the edits by hand.
        for finding in expected.sorted(by: { $0.description < $1.description }) {
            let fix = try #require(state.fixes[finding], "\(finding) has no fix")
            switch finding.kind {
            case "iscsi_binding_crosses_fabric":
                #expect(fix.contains("iface.net_ifacename = sanb0"), "\(fix)")
                try "iface.net_ifacename = sanb0\niface.ipaddress = 10.2.0.10\n".write(toFile: finding.prefix, atomically: true, encoding: .utf8)
            case "iscsi_iface_unreadable":
                try FileManager.default.removeItem(atPath: finding.prefix)
            default:
                try lab.must(.host, fix.split(separator: " ").map(String.init))
            }
            let before = state.findings
            state = try lint(lab, policy, iscsi: iscsi)
            #expect(before.subtracting(state.findings) == [finding] && state.findings.isSubset(of: before),
                    "fixing \(finding) with `\(fix)` left \(state.findings)")
        }
        #expect(state.status == 0 && state.findings.isEmpty, "\(state.findings)")
    }

    /// The classes one host cannot show all at once (they are about the same
    /// interface or remove each other's routes): each made alone on a clean
    /// host is found alone, and its fix leaves the host clean again.
    @Test func interfaceAddressAndPrefixClassesOneAtATime() throws {
        let lab = try Lab("lint1")
        defer { lab.close() }
        let iscsi = lab.directory.appendingPathComponent("none").path
        // san-b gets a second NIC, sanc0, cabled to a peer that is up.
        try lab.must(.host, ["ip", "link", "add", "sanc0", "type", "veth", "peer", "name", "sancp"])
        for interface in ["sana0", "sanb0", "sanc0"] {
            try lab.must(.host, ["sysctl", "-qw", "net.ipv4.conf.\(interface).arp_ignore=1", "net.ipv4.conf.\(interface).arp_announce=2",
                                 "net.ipv6.conf.\(interface).accept_ra=0"])
        }
        try lab.must(.host, ["ip", "link", "set", "sancp", "up"])
        try lab.must(.host, ["ip", "link", "set", "sanc0", "up"])
        let policy = try lab.write("two-nics.yaml", String(contentsOfFile: try lab.policy("base.yaml"), encoding: .utf8)
            .replacingOccurrences(of: "interfaces: [sanb0]", with: "interfaces: [sanb0, sanc0]"))
        #expect(try lint(lab, policy, iscsi: iscsi).findings.isEmpty)

        let cases: [(make: [[String]], expected: Set<Finding>, fix: [[String]]?)] = [
            ([["ip", "link", "set", "sanc0", "down"]], [Finding(severity: "warning", kind: "interface_down", interface: "sanc0", prefix: "")], nil),
            ([["ip", "link", "set", "sancp", "down"]], [Finding(severity: "warning", kind: "no_carrier", interface: "sanc0", prefix: "")],
             [["ip", "link", "set", "sancp", "up"]]),
            ([["ip", "link", "set", "sanc0", "down"], ["ip", "link", "set", "sanc0", "name", "sanc9"]],
             [Finding(severity: "error", kind: "interface_missing", interface: "sanc0", prefix: "")],
             [["ip", "link", "set", "sanc9", "name", "sanc0"], ["ip", "link", "set", "sanc0", "up"]]),
            ([["ip", "route", "add", "10.2.0.128/25", "dev", "mgmt0"]],
             [Finding(severity: "error", kind: "fabric_prefix_routed_outside", interface: "mgmt0", prefix: "10.2.0.128/25")], nil),
            ([["ip", "route", "del", "10.2.0.0/24", "dev", "sanb0"]],
             [Finding(severity: "error", kind: "prefix_without_route", interface: "sanb0", prefix: "10.2.0.0/24")], nil),
            // Without its addresses, san-b also has no route to its prefixes (and means to reach none: warnings).
            ([["ip", "addr", "flush", "dev", "sanb0", "scope", "global"]],
             [Finding(severity: "warning", kind: "policy_address_absent", interface: "sanb0", prefix: "10.2.0.0/24, fd00:b::/64"),
              Finding(severity: "warning", kind: "prefix_without_route", interface: "sanb0", prefix: "10.2.0.0/24"),
              Finding(severity: "warning", kind: "prefix_without_route", interface: "sanb0", prefix: "fd00:b::/64")],
             [["ip", "addr", "add", "10.2.0.10/24", "dev", "sanb0"], ["ip", "addr", "add", "fd00:b::10/64", "dev", "sanb0", "nodad"]]),
        ]
        for (make, expected, fix) in cases {
            for command in make { try lab.must(.host, command) }
            let found = try lint(lab, policy, iscsi: iscsi)
            #expect(found.findings == expected, "after \(make): \(found.findings)")
            #expect(found.status == (expected.contains { $0.severity == "error" } ? 4 : 0))
            // lint's own command where it gives one, else the undoing by hand.
            let commands = try fix ?? [try #require(found.fixes[expected.first!]).split(separator: " ").map(String.init)]
            for command in commands { try lab.must(.host, command) }
            #expect(try lint(lab, policy, iscsi: iscsi).findings.isEmpty, "after fixing \(make)")
        }
    }

    /// `learn`'s policy on the host it was learnt from: lint finds no error in it
    /// (once ARP is pinned to each NIC, which a policy cannot do).
    @Test func aLearntPolicyLintsWithoutErrors() throws {
        let lab = try Lab("lintlearn")
        defer { lab.close() }
        try lab.must(.host, ["ip", "route", "add", "default", "dev", "mgmt0"])
        for interface in ["sana0", "sanb0"] {
            try lab.must(.host, ["sysctl", "-qw", "net.ipv4.conf.\(interface).arp_ignore=1", "net.ipv4.conf.\(interface).arp_announce=2"])
        }
        let out = lab.directory.appendingPathComponent("learnt.yaml").path
        #expect(try lab.fabricguard("learn", "--out", out).status == 0)
        let result = try lab.fabricguard("lint", "--policy", out, "--iscsi-ifaces", lab.directory.appendingPathComponent("none").path)
        #expect(result.status == 0 && result.output.contains(": 0 errors"), "\(result.output)")
    }

    /// 1000 routes and 200 interfaces: lint still answers in well under a second.
    @Test func aLargeRoutingTableStaysFast() throws {
        let lab = try Lab("lintbig", ipv4Only: true)
        defer { lab.close() }
        var batch = ""
        for index in 0..<200 { batch += "link add lx\(index) type veth peer name ly\(index)\n" }
        for index in 0..<1000 { batch += "route add 172.16.\(index / 250).\(index % 250)/32 dev sana0\n" }
        let file = try lab.write("batch", batch)
        try lab.must(.host, ["ip", "-batch", file])
        let policy = try lab.policy("enforce.yaml")
        let started = Date()
        let result = try lab.fabricguard("lint", "--policy", policy, "--iscsi-ifaces", lab.directory.path + "/none")
        let seconds = Date().timeIntervalSince(started)
        #expect([0, 4].contains(result.status), "\(result.output)")
        #expect(seconds < 1, "lint took \(seconds) s")
    }
}
