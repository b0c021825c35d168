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

/// A JSON file written by `fabricguard inventory --json`.
public struct InventoryFile: HostInventorySource {
    public let path: String

    public init(path: String) {
        self.path = path
    }

    public func inventory() throws -> HostInventory {
        let text: String
        do {
            text = try TextFile.read(path, verb: "read host file", maximumSize: TextFile.hostMaximumSize, standardInput: true)
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
