import ArgumentParser
import FabricHost
import FabricNetlink

struct Inventory: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "List this host's interfaces, ifindexes and addresses.",
        discussion: """
            Read through getifaddrs (netlink), so inside `nsenter --net` it shows that
            namespace. The JSON form is what --host accepts elsewhere, so a policy for a
            storage host can be checked on a laptop:

              fabricguard inventory --json > array-01.json     # on the storage host
              fabricguard check --policy fabrics.yaml --host array-01.json
            """
    )

    @OptionGroup var output: OutputOptions

    func run() throws {
        let inventory: HostInventory
        do {
            inventory = try LiveHost().inventory()
        } catch {
            throw CommandFailure(status: .runtimeFailure, message: "\(error)")
        }
        if output.json {
            print(String(decoding: try inventory.json(), as: UTF8.self))
            return
        }
        for link in inventory.interfaces {
            let state = link.usable ? "up" : (link.up ? "up, no carrier" : "down")
            print("\(link.index): \(link.name) (\(state))\(link.mac.map { " \($0)" } ?? "")")
            for address in link.addresses { print("    \(address.address)/\(address.prefixLength)") }
        }
    }
}
