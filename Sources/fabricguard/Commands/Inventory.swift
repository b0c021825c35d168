import ArgumentParser
import FabricHost
import FabricNetlink
import Foundation

struct Inventory: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "List this host's interfaces, ifindexes and addresses (and, with --watch, their changes).",
        discussion: """
            Read over rtnetlink, so inside `nsenter --net` it shows that namespace, and
            each address belongs to the interface that holds it whatever its label. The
            JSON form is what --host accepts elsewhere, so a policy for a storage host can
            be checked on a laptop:

              fabricguard inventory --json > array-01.json     # on the storage host
              fabricguard check --policy fabrics.yaml --host array-01.json

            --watch then prints every link and address notification the kernel sends
            (what `fabricguard run` follows), one line each, until interrupted; with
            --json one object per line: {"kind": "link|address|overflow", "ifindex",
            "name"?, "removed"}. An overflow means notifications were lost: take a new
            inventory.

              fabricguard inventory --watch --json
            """
    )

    @Flag(name: .long, help: "After the inventory, print link and address changes as they happen (until interrupted).")
    var watch = false

    @OptionGroup var output: OutputOptions

    func run() throws {
        let inventory: HostInventory
        // Subscribed before the snapshot, so no change in between is missed.
        let monitor: NetlinkMonitor?
        do {
            monitor = watch ? try NetlinkMonitor() : nil
            inventory = try LiveHost().inventory()
        } catch {
            throw CommandFailure(status: .runtimeFailure, message: "inventory: \(error)")
        }
        if output.json {
            // One line per object when watching: the stream is JSON lines.
            if watch {
                print(String(decoding: try JSONSerialization.data(withJSONObject: JSONSerialization.jsonObject(with: inventory.json()), options: [.sortedKeys]), as: UTF8.self))
            } else {
                print(String(decoding: try inventory.json(), as: UTF8.self))
            }
        } else {
            for link in inventory.interfaces {
                let state = link.usable ? "up" : (link.up ? "up, no carrier" : "down")
                print("\(link.index): \(link.name) (\(state))\(link.mac.map { " \($0)" } ?? "")")
                for address in link.addresses { print("    \(address.address)/\(address.prefixLength)") }
            }
        }
        guard let monitor else { return }
        // Each line as it happens, even into a pipe (print() would buffer it).
        func emit(_ line: String) { FileHandle.standardOutput.write(Data((line + "\n").utf8)) }
        fflush(nil)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        encoder.keyEncodingStrategy = .convertToSnakeCase
        do {
            while let changes = try monitor.next() {
                for change in changes {
                    emit(output.json ? String(decoding: try encoder.encode(WatchLine(change)), as: UTF8.self) : Self.text(change))
                }
            }
        } catch {
            throw CommandFailure(status: .runtimeFailure, message: "inventory --watch: \(error)")
        }
    }

    static func text(_ change: HostChange) -> String {
        switch change.kind {
        case .link: "link \(change.name ?? "?") (ifindex \(change.ifindex)) \(change.removed ? "removed" : "changed")"
        case .address: "address on ifindex \(change.ifindex) \(change.removed ? "removed" : "added or changed")"
        case .overflow: "overflow: the kernel dropped notifications; take a new inventory"
        }
    }

    /// One `--watch --json` line.
    struct WatchLine: Encodable {
        var kind: HostChange.Kind
        var ifindex: UInt32
        var name: String?
        var removed: Bool

        init(_ change: HostChange) {
            kind = change.kind
            ifindex = change.ifindex
            name = change.name
            removed = change.removed
        }
    }
}
