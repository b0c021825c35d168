#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import FabricPolicy

extension HostInventory {
    /// Reads the JSON that `fabricguard inventory --json` writes, reporting every problem at its
    /// line:column and field path. Prefer this to a bare JSONDecoder, which on Linux cannot locate
    /// a syntax error, lets a repeated key silently win and ignores a misspelt optional field.
    public init(json: Data, file: String = "<host inventory>") throws(HostInventoryError) {
        self = try HostInventory.read(json: String(decoding: json, as: UTF8.self), file: file)
    }

    static func read(json text: String, file: String) throws(HostInventoryError) -> HostInventory {
        // The same node reader as the policy's: JSON is read as the YAML subset it is.
        var reader = NodeReader(file: file, vocabulary: .json)
        let root = reader.root(of: text, emptyMessage: "the host file is empty (write it with `fabricguard inventory --json`)")
        guard let root, let inventory = reader.readInventory(root), reader.diagnostics.isEmpty else {
            throw .invalid(file: file, diagnostics: reader.diagnostics.sorted())
        }
        return inventory
    }
}

/// The host file's shape, read field by field.
fileprivate extension NodeReader {
    mutating func readInventory(_ root: YAMLNode) -> HostInventory? {
        guard let fields = mapping(root, "", keys: ["hostname", "interfaces"]) else { return nil }
        let hostname = fields["hostname"].flatMap { isNull($0) ? nil : string($0, "hostname") }
        guard let list = required(fields, "interfaces", of: root, ""), let items = sequence(list, "interfaces") else {
            return nil
        }
        var interfaces: [HostInterface] = []
        // Names and indexes are how the policy and the kernel refer to an interface; two
        // entries sharing either would make every lookup ambiguous.
        var positionByName: [String: Int] = [:]
        var positionByIndex: [UInt32: Int] = [:]
        for (position, item) in items.enumerated() {
            let path = "interfaces[\(position)]"
            guard let interface = readInterface(item, path) else { continue }
            if let first = positionByName.updateValue(position, forKey: interface.name) {
                fail(at: item, "\(path).name", "duplicate interface name '\(interface.name)' (also at interfaces[\(first)])")
            }
            if let first = positionByIndex.updateValue(position, forKey: interface.index) {
                fail(at: item, "\(path).ifindex", "duplicate ifindex \(interface.index) (also at interfaces[\(first)])")
            }
            interfaces.append(interface)
        }
        return HostInventory(hostname: hostname, interfaces: interfaces)
    }

    mutating func readInterface(_ node: YAMLNode, _ path: String) -> HostInterface? {
        guard let fields = mapping(node, path, keys: ["name", "ifindex", "up", "running", "mac", "addresses", "kind"]) else {
            return nil
        }
        let name = required(fields, "name", of: node, path).flatMap { value -> String? in
            guard let name = string(value, "\(path).name") else { return nil }
            if let problem = InterfaceName.problem(name) {
                fail(at: value, "\(path).name", "'\(name)' is not a valid interface name: \(problem)")
                return nil
            }
            return name
        }
        let index = required(fields, "ifindex", of: node, path).flatMap { value -> UInt32? in
            guard let index = integer(value, "\(path).ifindex") else { return nil }
            guard index != 0 else {
                fail(at: value, "\(path).ifindex", "0 is not an ifindex (the kernel numbers interfaces from 1)")
                return nil
            }
            guard let index = UInt32(exactly: index) else {
                fail(at: value, "\(path).ifindex", "ifindex must be between 1 and \(UInt32.max), found \(index)")
                return nil
            }
            return index
        }
        let up = required(fields, "up", of: node, path).flatMap { boolean($0, "\(path).up") }
        let running = required(fields, "running", of: node, path).flatMap { boolean($0, "\(path).running") }
        var mac: String?
        if let value = fields["mac"], !isNull(value), let text = string(value, "\(path).mac") {
            mac = LinkAddress.normalize(text)
            if mac == nil {
                fail(at: value, "\(path).mac", "'\(text)' is not a link-layer address "
                    + "(expected hex byte pairs separated by colons, like 02:00:00:00:00:01)")
            }
        }
        var kind: String?
        if let value = fields["kind"], !isNull(value) { kind = string(value, "\(path).kind") }
        var addresses: [HostAddress] = []
        if let list = required(fields, "addresses", of: node, path),
           let items = sequence(list, "\(path).addresses") {
            var positionByAddress: [HostAddress: Int] = [:]
            for (position, item) in items.enumerated() {
                let itemPath = "\(path).addresses[\(position)]"
                guard let address = readAddress(item, itemPath) else { continue }
                if let first = positionByAddress.updateValue(position, forKey: address) {
                    fail(at: item, itemPath, "duplicate address \(address) (also at \(path).addresses[\(first)])")
                }
                addresses.append(address)
            }
        }
        guard let name, let index, let up, let running else { return nil }
        return HostInterface(name: name, index: index, up: up, running: running, mac: mac, addresses: addresses, kind: kind)
    }

    mutating func readAddress(_ node: YAMLNode, _ path: String) -> HostAddress? {
        guard let fields = mapping(node, path, keys: ["address", "prefix_length"]) else { return nil }
        let address = required(fields, "address", of: node, path).flatMap { value -> IPAddress? in
            guard let text = string(value, "\(path).address") else { return nil }
            guard let address = IPAddress(text) else {
                fail(at: value, "\(path).address", "'\(text)' is not an IPv4 or IPv6 address")
                return nil
            }
            return address
        }
        let length = required(fields, "prefix_length", of: node, path).flatMap { integer($0, "\(path).prefix_length") }
        guard let address, let length, let lengthNode = fields["prefix_length"] else { return nil }
        let width = address.family.bitWidth
        guard (0...width).contains(length) else {
            let family = address.family == .ipv4 ? "IPv4" : "IPv6"
            fail(at: lengthNode, "\(path).prefix_length", "\(length) is out of range for an \(family) address (0...\(width))")
            return nil
        }
        return HostAddress(address, prefixLength: length)
    }
}
