import FabricHost
import FabricPolicy
import FabricSystem

#if canImport(Glibc)
import Glibc
#endif

/// This host, read over rtnetlink: one dump of the links and one of the
/// addresses (RTM_GETLINK, RTM_GETADDR). Each address comes with the ifindex
/// that holds it, so an address label (`sana0:1`, or another interface's name,
/// which the kernel accepts) never decides its owner, as it did through
/// getifaddrs. Never /sys/class/net: inside `nsenter --net` that shows the
/// root namespace's interfaces, not this one's.
public struct LiveHost: HostInventorySource {
    public init() {}

    public func inventory() throws -> HostInventory {
        do {
            return try Self.snapshot(of: NetlinkSocket(groups: 0, nonblocking: false).dump())
        } catch {
            throw HostInventoryError.system(error)
        }
    }

    static func snapshot(of messages: [NetlinkSocket.Message]) -> HostInventory {
        var links: [UInt32: HostInterface] = [:]
        var addresses: [UInt32: Set<HostAddress>] = [:]
        for message in messages {
            switch message {
            case .link(let link) where !link.removed:
                links[link.ifindex] = HostInterface(
                    name: link.name, index: link.ifindex, up: link.flags & UInt32(IFF_UP) != 0,
                    running: link.flags & UInt32(IFF_RUNNING) != 0,
                    mac: link.hardwareAddress.isEmpty ? nil : LinkAddress.format(link.hardwareAddress), addresses: [],
                    kind: link.kind)
            case .address(let address) where !address.removed:
                guard let ip = IPAddress(bytes: address.bytes) else { continue }
                addresses[address.ifindex, default: []].insert(HostAddress(ip, prefixLength: address.prefixLength))
            default:
                continue
            }
        }
        // An address of a link deleted between the two dumps has no link: it went with it.
        let interfaces = links.values.map { link in
            HostInterface(
                name: link.name, index: link.index, up: link.up, running: link.running, mac: link.mac,
                addresses: Array(addresses[link.index] ?? []), kind: link.kind)
        }
        return HostInventory(hostname: hostname(), interfaces: interfaces)
    }

    private static func hostname() -> String? {
        var buffer = [CChar](repeating: 0, count: 256)
        guard gethostname(&buffer, buffer.count - 1) == 0 else { return nil }
        let name = String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        return name.isEmpty ? nil : name
    }
}
