#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import FabricPolicy
import FabricSystem

/// Where a host inventory comes from: the running kernel, a file, or a test's fixture.
public protocol HostInventorySource: Sendable {
    func inventory() throws -> HostInventory
}

/// This host, read through getifaddrs(3) (netlink underneath). Never /sys/class/net: inside
/// `nsenter --net` that shows the root namespace's interfaces, not this namespace's.
public struct LiveHost: HostInventorySource {
    public init() {}

    public func inventory() throws -> HostInventory {
        #if os(Linux)
        return try LiveHost.read()
        #else
        throw HostInventoryError(action: "read interfaces", reason: "only supported on Linux")
        #endif
    }
}

/// A JSON file written by `fabricguard inventory --json`.
public struct InventoryFile: HostInventorySource {
    public let path: String

    public init(path: String) {
        self.path = path
    }

    public func inventory() throws -> HostInventory {
        let text: String
        do {
            text = try TextFile.read(path, verb: "read host file")
        } catch {
            throw HostInventoryError.system(error)
        }
        return try HostInventory.read(json: text, file: path)
    }
}

/// A fixed inventory, for tests and for callers that already hold one.
public struct StaticHost: HostInventorySource {
    private let fixed: HostInventory

    public init(_ inventory: HostInventory) {
        fixed = inventory
    }

    public func inventory() throws -> HostInventory { fixed }
}

#if os(Linux)
extension LiveHost {
    private struct Link {
        var index: UInt32?
        var flags: UInt32
        var mac: String?
        var addresses: Set<HostAddress> = []
    }

    private struct LabelledAddress {
        var label: String
        var flags: UInt32
        var address: HostAddress
    }

    /// glibc's sockaddr_ll_max: the storage behind AF_PACKET entries has room for 24 address
    /// bytes (InfiniBand needs 20), though sockaddr_ll declares only 8.
    private static let maximumHardwareLength = 24

    /// Offsets into struct sockaddr_ll (<netpacket/packet.h>), which the Glibc module does not
    /// import. The layout is fixed by the kernel ABI.
    private enum PacketAddressLayout {
        static let ifindex = 4
        static let halen = 11
        static let addr = 12
    }

    static func read() throws(HostInventoryError) -> HostInventory {
        let action = "read interfaces"
        var head: UnsafeMutablePointer<ifaddrs>?
        guard getifaddrs(&head) == 0 else {
            throw HostInventoryError(action: action, reason: "getifaddrs", errno: errno)
        }
        defer { freeifaddrs(head) }

        // glibc lists one entry per link (AF_PACKET, or no address at all when the link has no
        // hardware address, as tun devices do), then one per IP address.
        var links: [String: Link] = [:]
        var labelled: [LabelledAddress] = []
        var cursor = head
        while let entry = cursor?.pointee {
            cursor = entry.ifa_next
            guard let namePointer = entry.ifa_name else { continue }
            let name = String(cString: namePointer)
            guard let address = entry.ifa_addr else {
                links[name, default: Link(flags: entry.ifa_flags)].flags = entry.ifa_flags
                continue
            }
            switch Int32(address.pointee.sa_family) {
            case AF_PACKET:
                links[name] = packetLink(address, flags: entry.ifa_flags)
            case AF_INET, AF_INET6:
                if let hostAddress = ipAddress(address, netmask: entry.ifa_netmask) {
                    labelled.append(LabelledAddress(label: name, flags: entry.ifa_flags, address: hostAddress))
                }
            default:
                // Other address families (MCTP, for one) can appear in the dump; they mean
                // nothing to an IP policy.
                continue
            }
        }

        for item in labelled {
            let owner = try owner(of: item, in: links, action: action)
            links[owner]?.addresses.insert(item.address)
        }

        var interfaces: [HostInterface] = []
        for (name, link) in links {
            var index = link.index
            if index == nil {
                // A link without a hardware address has no sockaddr_ll to carry its index.
                let found = if_nametoindex(name)
                if found == 0 {
                    // Deleted since the dump: it has no addresses any more either.
                    if errno == ENODEV || errno == ENXIO { continue }
                    throw HostInventoryError(action: action, reason: "if_nametoindex \(name)", errno: errno)
                }
                index = found
            }
            guard let index else { continue }
            interfaces.append(HostInterface(
                name: name, index: index,
                up: link.flags & UInt32(IFF_UP) != 0,
                running: link.flags & UInt32(IFF_RUNNING) != 0,
                mac: link.mac, addresses: Array(link.addresses)))
        }
        return HostInventory(hostname: hostname(), interfaces: interfaces)
    }

    /// The interface an address belongs to. glibc names IPv4 addresses by their label
    /// (IFA_LABEL), not their interface, and does not pass on the interface's index: the label
    /// is normally the interface name, or an alias such as `eth0:1`, but the kernel accepts any
    /// label, including another interface's name.
    private static func owner(
        of item: LabelledAddress, in links: [String: Link], action: String
    ) throws(HostInventoryError) -> String {
        var candidate = item.label
        if links[candidate] == nil, let colon = candidate.firstIndex(of: ":") {
            candidate = String(candidate[..<colon])
        }
        guard let link = links[candidate] else {
            throw HostInventoryError(
                action: action,
                reason: "address \(item.address) has label '\(item.label)', which names no interface, "
                    + "so getifaddrs cannot say which interface holds it")
        }
        // glibc copies the owning link's flags onto each address entry, so differing flags
        // prove the label names some other interface.
        guard link.flags == item.flags else {
            throw HostInventoryError(
                action: action,
                reason: "address \(item.address) has label '\(item.label)' but is not on \(candidate), "
                    + "so getifaddrs cannot say which interface holds it")
        }
        return candidate
    }

    private static func packetLink(_ address: UnsafeMutablePointer<sockaddr>, flags: UInt32) -> Link {
        let raw = UnsafeRawPointer(address)
        let index = raw.loadUnaligned(fromByteOffset: PacketAddressLayout.ifindex, as: Int32.self)
        let halen = raw.load(fromByteOffset: PacketAddressLayout.halen, as: UInt8.self)
        let length = min(Int(halen), maximumHardwareLength)
        let bytes = UnsafeRawBufferPointer(start: raw + PacketAddressLayout.addr, count: length)
        return Link(
            index: index > 0 ? UInt32(index) : nil,
            flags: flags,
            mac: length == 0 ? nil : LinkAddress.format(bytes))
    }

    private static func ipAddress(
        _ address: UnsafeMutablePointer<sockaddr>, netmask: UnsafeMutablePointer<sockaddr>?
    ) -> HostAddress? {
        let raw = UnsafeRawPointer(address)
        let ip: IPAddress?
        let maskBytes: [UInt8]?
        switch Int32(address.pointee.sa_family) {
        case AF_INET:
            ip = withUnsafeBytes(of: raw.load(as: sockaddr_in.self).sin_addr) { IPAddress(bytes: $0) }
            maskBytes = netmask.map {
                withUnsafeBytes(of: UnsafeRawPointer($0).load(as: sockaddr_in.self).sin_addr) { Array($0) }
            }
        case AF_INET6:
            ip = withUnsafeBytes(of: raw.load(as: sockaddr_in6.self).sin6_addr) { IPAddress(bytes: $0) }
            maskBytes = netmask.map {
                withUnsafeBytes(of: UnsafeRawPointer($0).load(as: sockaddr_in6.self).sin6_addr) { Array($0) }
            }
        default:
            return nil
        }
        guard let ip else { return nil }
        // glibc builds the netmask from the kernel's prefix length, so it is always contiguous.
        let length = maskBytes.map { bytes in
            bytes.reduce((count: 0, open: true)) { state, byte in
                guard state.open else { return state }
                let ones = (~byte).leadingZeroBitCount
                return (state.count + ones, ones == 8)
            }.count
        } ?? ip.family.bitWidth
        return HostAddress(ip, prefixLength: length)
    }

    private static func hostname() -> String? {
        var buffer = [CChar](repeating: 0, count: 256)
        guard gethostname(&buffer, buffer.count - 1) == 0 else { return nil }
        let name = String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        return name.isEmpty ? nil : name
    }
}
#endif
