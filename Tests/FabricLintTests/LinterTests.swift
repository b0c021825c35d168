import FabricHost
import FabricLint
import FabricPolicy
import Foundation
import Testing

@Suite("Lint rules")
struct LinterTests {
    static let policy = try! PolicyLoader.parse(yaml: """
        version: 1
        fabrics:
          - {name: san-a, interfaces: [ens1f0, ens3f0], prefixes: [10.1.0.0/24]}
          - {name: san-b, interfaces: [ens1f1], prefixes: [10.2.0.0/24, "fd00:b::/64"]}
          - {name: san-c, interfaces: [ens2f0], prefixes: [10.3.0.0/24]}
        management: [eno1]
        """)

    static func interface(_ name: String, _ index: UInt32, up: Bool = true, running: Bool = true, _ addresses: [String]) -> HostInterface {
        HostInterface(name: name, index: index, up: up, running: running, addresses: addresses.map { text in
            let parts = text.split(separator: "/")
            return HostAddress(IPAddress(String(parts[0]))!, prefixLength: Int(parts[1])!)
        })
    }

    static let host = HostInventory(interfaces: [
        interface("eno1", 2, ["192.168.1.5/24"]),
        interface("ens1f0", 3, ["10.1.0.5/24"]),
        interface("ens1f1", 4, running: false, ["10.2.0.5/24"]),
        interface("ens2f0", 5, up: false, []),
    ])

    static func route(_ prefix: String, _ oif: UInt32?) -> Route {
        let parts = prefix.split(separator: "/")
        return Route(destination: IPPrefix(covering: IPAddress(String(parts[0]))!, length: Int(parts[1])!), outputIfindex: oif)
    }

    func kinds(_ findings: [LintFinding]) -> [String] { findings.map { "\($0.severity.rawValue) \($0.kind) \($0.interface ?? "-") \($0.prefix ?? "-")" } }

    @Test func interfacesAddressesAndRoutesAreHeldAgainstThePolicy() {
        var facts = LintFacts(routes: [
            Self.route("10.1.0.0/24", 3), Self.route("10.2.0.0/24", 4),
            // san-c's prefix pointed at the management NIC.
            Self.route("10.3.0.0/24", 2),
        ])
        for query in Linter.routeQueries(policy: Self.policy, host: Self.host) {
            switch query.destination.description {
            case "10.1.0.1": facts.lookups[query] = .some(Self.route("10.1.0.0/24", 3))
            case "10.2.0.1": facts.lookups[query] = .some(Self.route("10.2.0.0/24", 4))
            case "10.3.0.1": facts.lookups[query] = .some(Self.route("10.3.0.0/24", 2))
            default: facts.lookups[query] = .some(nil)  // fd00:b::/64: no route, and san-b has no IPv6 address
            }
        }
        #expect(kinds(Linter.lint(policy: Self.policy, host: Self.host, facts: facts)) == [
            "error fabric_prefix_routed_outside eno1 10.3.0.0/24",
            "error interface_missing ens3f0 -",
            "warning interface_down ens2f0 -",
            "warning no_carrier ens1f1 -",
            "warning policy_address_absent ens2f0 10.3.0.0/24",
            "warning prefix_without_route ens1f1 fd00:b::/64",
        ])
    }

    @Test func theQueriesAskEachPrefixWithoutAndWithTheFabricsOwnSources() {
        let queries = Linter.routeQueries(policy: Self.policy, host: Self.host).map { "\($0.destination) from \($0.source.map { "\($0)" } ?? "-")" }
        #expect(queries == [
            "10.1.0.1 from -", "10.1.0.1 from 10.1.0.5", "10.2.0.1 from -", "10.2.0.1 from 10.2.0.5", "fd00:b::1 from -",
            "10.3.0.1 from -",
        ])
    }

    @Test func iscsiBindingsAreReadAndBrokenOnesReported() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("fg-ifaces-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: "\(directory)/unreadable", withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        try "# BEGIN RECORD\niface.iscsi_ifacename = a\niface.net_ifacename = ens1f0\niface.ipaddress = 10.2.0.5\n# END RECORD\n"
            .write(toFile: "\(directory)/a", atomically: true, encoding: .utf8)
        try "iface.net_ifacename = <empty>\n".write(toFile: "\(directory)/default", atomically: true, encoding: .utf8)
        let (bindings, unreadable) = IscsiBinding.read(directory: directory)
        #expect(bindings == [
            IscsiBinding(file: "\(directory)/a", interface: "ens1f0", address: IPAddress("10.2.0.5")),
            IscsiBinding(file: "\(directory)/default", interface: nil, address: nil),
        ])
        #expect(unreadable == ["\(directory)/unreadable"])
        #expect(IscsiBinding.read(directory: "\(directory)/missing").bindings.isEmpty)
        let findings = Linter.lint(policy: Self.policy, host: Self.host, facts: LintFacts(iscsi: bindings, unreadableIscsi: unreadable))
        #expect(kinds(findings).contains("error iscsi_binding_crosses_fabric ens1f0 \(directory)/a"))
        #expect(findings.first { $0.kind == "iscsi_binding_crosses_fabric" }?.fix == "edit \(directory)/a: iface.net_ifacename = ens1f1")
    }
}
