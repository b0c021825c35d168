import Foundation
import Testing

/// The live host over rtnetlink, inside a lab's namespace (read the way an
/// operator runs it: `nsenter --net`, never /sys/class/net).
@Suite("Kernel tier: the host inventory over netlink", .enabled(if: KernelGate.enabled, KernelGate.skipMessage), .serialized)
struct InventoryTests {
    @Test func addressesBelongToTheirInterfaceWhateverTheirLabel() throws {
        let lab = try Lab("labels", ipv4Only: true)
        defer { lab.close() }
        // An alias label, and a label that names another interface (the kernel
        // accepts both); getifaddrs named IPv4 addresses by label.
        try lab.must(.host, ["ip", "addr", "add", "10.1.0.77/24", "dev", "sana0", "label", "sana0:1"])
        try lab.must(.host, ["ip", "addr", "add", "10.1.0.78/24", "dev", "sana0", "label", "sanb0"])
        try lab.must(.host, ["ip", "link", "set", "sanb0", "down"])
        let result = try Command.run(lab.agentCommand(["inventory", "--json"]))
        try #require(result.status == 0, "\(result.output)")
        let inventory = try #require(try JSONSerialization.jsonObject(with: Data(result.output.utf8)) as? [String: Any])
        let interfaces = Dictionary(uniqueKeysWithValues: (inventory["interfaces"] as? [[String: Any]] ?? []).map {
            ($0["name"] as? String ?? "", $0)
        })
        func addresses(_ name: String) -> [String] {
            (interfaces[name]?["addresses"] as? [[String: Any]] ?? []).map {
                "\($0["address"] as? String ?? "?")/\($0["prefix_length"] as? Int ?? -1)"
            }
        }
        let sana0 = addresses("sana0"), sanb0 = addresses("sanb0")
        #expect(sana0.contains("10.1.0.77/24") && sana0.contains("10.1.0.78/24") && sana0.contains("10.1.0.10/24"), "\(sana0)")
        #expect(sanb0 == ["10.2.0.10/24"], "\(sanb0)")
        #expect(interfaces["sana0:1"] == nil, "an address label became an interface")
        #expect(interfaces["sanb0"]?["up"] as? Bool == false && interfaces["sana0"]?["running"] as? Bool == true)
        #expect(interfaces["sana0"]?["ifindex"] as? Int == (try lab.ifindex(.host, "sana0")))
    }
}
