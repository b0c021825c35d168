import Foundation
import Testing

#if canImport(Glibc)
import Glibc
#endif

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

    @Test func watchPrintsEveryLinkAndAddressChangeAsItHappens() throws {
        let lab = try Lab("watch", ipv4Only: true)
        defer { lab.close() }
        let log = lab.directory.appendingPathComponent("watch.jsonl").path
        let watcher = try Child(lab.agentCommand(["inventory", "--watch", "--json"]), output: .file(log))
        defer { watcher.signal(SIGKILL) }
        func lines() -> [[String: Any]] {
            ((try? String(contentsOfFile: log, encoding: .utf8)) ?? "").split(separator: "\n").compactMap {
                try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any]
            }
        }
        func waitFor(_ what: String, _ found: ([String: Any]) -> Bool) throws {
            let deadline = Date().addingTimeInterval(10)
            while !lines().contains(where: found) {
                guard Date() < deadline, watcher.isRunning else {
                    throw Namespace.NamespaceError(message: "inventory --watch never printed \(what): \(lines())")
                }
                usleep(5_000)
            }
        }
        // The inventory first (the subscription is already open), then the changes.
        try waitFor("the inventory") { $0["interfaces"] != nil }
        let sana0 = try lab.ifindex(.host, "sana0")
        try lab.must(.host, ["ip", "addr", "add", "10.1.0.99/24", "dev", "sana0"])
        try waitFor("the new address") { $0["kind"] as? String == "address" && $0["ifindex"] as? Int == sana0 && $0["removed"] as? Bool == false }
        try lab.must(.host, ["ip", "addr", "del", "10.1.0.99/24", "dev", "sana0"])
        try waitFor("the removed address") { $0["kind"] as? String == "address" && $0["removed"] as? Bool == true }
        try lab.must(.host, ["ip", "link", "add", "wtest0", "type", "veth", "peer", "name", "wtest1"])
        try waitFor("the new link") { $0["kind"] as? String == "link" && $0["name"] as? String == "wtest0" && $0["removed"] as? Bool == false }
        try lab.must(.host, ["ip", "link", "del", "wtest0"])
        try waitFor("the deleted link") { $0["kind"] as? String == "link" && $0["name"] as? String == "wtest0" && $0["removed"] as? Bool == true }
        try lab.must(.host, ["ip", "link", "set", "sanb0", "down"])
        try waitFor("sanb0 going down") { $0["kind"] as? String == "link" && $0["name"] as? String == "sanb0" }
    }
}
