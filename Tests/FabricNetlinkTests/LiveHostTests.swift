import FabricHost
import FabricNetlink
import FabricPolicy
import Foundation
import Testing

/// The live host over rtnetlink, in the test's own network namespace
/// (unprivileged: dumps need no capability).
@Suite struct LiveHostTests {
    static func address(_ text: String, _ length: Int) -> HostAddress { HostAddress(IPAddress(text)!, prefixLength: length) }

    @Test func liveHostHasLoopback() throws {
        let inventory = try LiveHost().inventory()
        let lo = try #require(inventory.interface(named: "lo"))
        #expect(lo.index == 1)
        #expect(inventory.interface(index: 1)?.name == "lo")
        #expect(lo.up)
        #expect(lo.usable)
        #expect(lo.mac == "00:00:00:00:00:00")
        #expect(lo.addresses.contains(Self.address("127.0.0.1", 8)))
        if (try? String(contentsOfFile: "/proc/sys/net/ipv6/conf/lo/disable_ipv6", encoding: .utf8))?
            .hasPrefix("0") == true {
            #expect(lo.addresses.contains(Self.address("::1", 128)))
        }
        #expect(inventory.interfaces.map(\.index) == inventory.interfaces.map(\.index).sorted())
        #expect(Set(inventory.interfaces.map(\.index)).count == inventory.interfaces.count)
        #expect(inventory.hostname?.isEmpty == false)
        // What this host reports must be readable as a --host file on another.
        #expect(try HostInventory(json: inventory.json()) == inventory)
    }

}
