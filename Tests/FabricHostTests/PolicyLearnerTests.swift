import FabricHost
import FabricPolicy
import Testing

@Suite("Policy learner")
struct PolicyLearnerTests {
    static func interface(_ name: String, _ index: UInt32, _ addresses: [String]) -> HostInterface {
        HostInterface(name: name, index: index, up: true, running: true, addresses: addresses.map { text in
            let parts = text.split(separator: "/")
            return HostAddress(IPAddress(String(parts[0]))!, prefixLength: Int(parts[1])!)
        })
    }

    static let host = HostInventory(hostname: "array-1", interfaces: [
        interface("lo", 1, ["127.0.0.1/8", "::1/128"]),
        interface("eno1", 2, ["192.168.1.5/24"]),
        interface("ens1f0", 3, ["10.1.0.5/24", "fe80::3/64"]),
        interface("ens1f1", 4, ["10.2.0.5/24"]),
        // Same subnet as ens1f0, and a wider one nesting it: one fabric.
        interface("ens2f0", 5, ["10.1.0.6/24"]),
        interface("ens2f1", 6, ["10.1.0.7/16"]),
        interface("ens3f0", 7, ["fe80::7/64"]),
    ])

    @Test func interfacesSharingSubnetsFormOneFabricAndTheDefaultRouteIsManagement() throws {
        let proposal = try PolicyLearner.learn(host: Self.host, defaultRoutes: ["eno1"])
        let policy = try PolicyLoader.parse(yaml: proposal.yaml)
        #expect(proposal.fabrics == 2)
        #expect(policy.fabrics.map(\.interfaces) == [["ens1f0", "ens2f0", "ens2f1"], ["ens1f1"]])
        #expect(policy.fabrics.map { $0.prefixes.map(\.description) } == [["10.1.0.0/16"], ["10.2.0.0/24"]])
        #expect(policy.management == ["eno1"])
        #expect(policy.egress.mode == .audit && policy.ingress.mode == .audit)
        #expect(policy.exempt.map(\.description) == ["0.0.0.0/32", "::/128", "fe80::/10"])
        // Every line of a fabric says where it came from; what was left out is named.
        #expect(proposal.yaml.contains("# connected: ens2f1 has 10.1.0.7/16; ens1f0 has 10.1.0.5/24; ens2f0 has 10.1.0.6/24"), "\(proposal.yaml)")
        #expect(proposal.yaml.contains("# not proposed (no address to learn from): ens3f0"))
    }

    @Test func aHostWithNothingButManagementHasNothingToLearn() {
        let host = HostInventory(interfaces: [Self.interface("eno1", 2, ["192.168.1.5/24"])])
        #expect(throws: PolicyLearner.NothingToLearn.self) { try PolicyLearner.learn(host: host, defaultRoutes: ["eno1"]) }
    }
}
