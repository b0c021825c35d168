import FabricABI
import FabricPolicy

/// The exact contents of every policy map, as the compiler decided them.
/// Deterministic: the same policy and inventory give an equal plan and the same
/// bytes (`MapPlan.entries(bank:)`), hence the same digest.
public struct MapPlan: Sendable, Equatable, Codable {
    /// Managed interfaces present on the host, by ifindex.
    public var interfaces: [InterfaceEntry]
    /// Fabrics by id (1-based, in policy order); 0 is "no fabric".
    public var fabrics: [FabricEntry]
    /// Owner and exempt prefixes merged into one longest-prefix-match table:
    /// the longest match for any address carries both owner(A) and exempt(A).
    public var prefixes: [PrefixEntry]
    /// This host's addresses that a fabric owns, with their redirect targets.
    public var locals: [LocalEntry]
    /// The policy's event budget (fg_settings).
    public var events: EventSettings

    public init(
        interfaces: [InterfaceEntry], fabrics: [FabricEntry], prefixes: [PrefixEntry], locals: [LocalEntry],
        events: EventSettings = .init()
    ) {
        self.events = events
        self.interfaces = interfaces
        self.fabrics = fabrics
        self.prefixes = prefixes
        self.locals = locals
    }

    public func interface(index: UInt32) -> InterfaceEntry? { interfaces.first { $0.ifindex == index } }
    public func interface(named name: String) -> InterfaceEntry? { interfaces.first { $0.name == name } }
    public func fabric(id: UInt32) -> FabricEntry? { fabrics.first { $0.id == id } }
}

public struct DirectionConfig: Sendable, Equatable, Codable {
    public var mode: Mode
    public var action: ViolationAction
    /// Egress only.
    public var unowned: UnownedAction
    /// Ingress only.
    public var checks: [IngressCheck]

    public init(mode: Mode, action: ViolationAction, unowned: UnownedAction, checks: [IngressCheck]) {
        self.mode = mode
        self.action = action
        self.unowned = unowned
        self.checks = checks
    }

    public func checks(_ check: IngressCheck) -> Bool { checks.contains(check) }
}

public struct InterfaceEntry: Sendable, Equatable, Codable {
    public var name: String
    public var ifindex: UInt32
    public var fabricID: UInt32
    public var fabric: String
    /// Index of this interface's counters; stable for the life of the plan.
    public var counterSlot: UInt32
    public var egress: DirectionConfig
    public var ingress: DirectionConfig
    /// Host addresses that pass when they leave this interface (ok or exempt),
    /// at most `ABILimits.fastSources`: the programs answer these without a prefix lookup.
    public var fastSources: [FastSource]

    public init(
        name: String, ifindex: UInt32, fabricID: UInt32, fabric: String, counterSlot: UInt32,
        egress: DirectionConfig, ingress: DirectionConfig, fastSources: [FastSource] = []
    ) {
        self.name = name
        self.ifindex = ifindex
        self.fabricID = fabricID
        self.fabric = fabric
        self.counterSlot = counterSlot
        self.egress = egress
        self.ingress = ingress
        self.fastSources = fastSources
    }

    public func config(_ direction: Direction) -> DirectionConfig { direction == .egress ? egress : ingress }
}

/// A host address and the egress reason it passes with on one interface.
public struct FastSource: Sendable, Equatable, Codable {
    public var address: IPAddress
    public var reason: Reason

    public init(address: IPAddress, reason: Reason) {
        self.address = address
        self.reason = reason
    }
}

public struct FabricEntry: Sendable, Equatable, Codable {
    public var id: UInt32
    public var name: String
    /// Where a foreign-sourced frame owned by this fabric is redirected when its
    /// source is not one of this host's addresses: the first listed interface
    /// that is usable. 0 when none is.
    public var redirectIfindex: UInt32
    public var redirectInterface: String?

    public init(id: UInt32, name: String, redirectIfindex: UInt32, redirectInterface: String?) {
        self.id = id
        self.name = name
        self.redirectIfindex = redirectIfindex
        self.redirectInterface = redirectInterface
    }
}

public struct PrefixEntry: Sendable, Equatable, Codable {
    public var prefix: IPPrefix
    /// 0 when no fabric owns this prefix (an exempt-only entry).
    public var fabricID: UInt32
    public var exempt: Bool

    public init(prefix: IPPrefix, fabricID: UInt32, exempt: Bool) {
        self.prefix = prefix
        self.fabricID = fabricID
        self.exempt = exempt
    }
}

public struct LocalEntry: Sendable, Equatable, Codable {
    public var address: IPAddress
    /// The interface that holds the address on this host.
    public var interface: String
    public var fabricID: UInt32
    /// The holder if it is a usable interface of the owning fabric, else the
    /// owning fabric's first usable interface, else 0 (redirect_unavailable).
    public var redirectIfindex: UInt32

    public init(address: IPAddress, interface: String, fabricID: UInt32, redirectIfindex: UInt32) {
        self.address = address
        self.interface = interface
        self.fabricID = fabricID
        self.redirectIfindex = redirectIfindex
    }
}
