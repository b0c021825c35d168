import FabricPolicy

/// A route of the kernel's tables, or the answer of a route lookup
/// (`FabricNetlink` reads them; lint and the lockout guard judge them).
public struct Route: Sendable, Equatable {
    /// 0.0.0.0/0 or ::/0 for a default route.
    public var destination: IPPrefix
    /// 254 is main, 255 local; others are policy routing's.
    public var table: UInt32
    public var kind: Kind
    /// The interface it leaves through; nil for multipath, blackhole and the like.
    public var outputIfindex: UInt32?
    /// The source address the kernel picks for traffic on this route (`src`).
    public var preferredSource: IPAddress?
    public var gateway: IPAddress?
    public var metric: UInt32

    /// The route's type (rtm_type; the numbers of <linux/rtnetlink.h>'s RTN_*).
    public enum Kind: Sendable, Equatable {
        case unicast, local, broadcast, multicast, blackhole, unreachable, prohibit, other(UInt8)

        public init(code: UInt8) {
            switch code {
            case 1: self = .unicast
            case 2: self = .local
            case 3: self = .broadcast
            case 5: self = .multicast
            case 6: self = .blackhole
            case 7: self = .unreachable
            case 8: self = .prohibit
            default: self = .other(code)
            }
        }
    }

    public static let mainTable: UInt32 = 254
    public static let localTable: UInt32 = 255

    public init(
        destination: IPPrefix, table: UInt32 = Route.mainTable, kind: Kind = .unicast, outputIfindex: UInt32?,
        preferredSource: IPAddress? = nil, gateway: IPAddress? = nil, metric: UInt32 = 0
    ) {
        self.destination = destination
        self.table = table
        self.kind = kind
        self.outputIfindex = outputIfindex
        self.preferredSource = preferredSource
        self.gateway = gateway
        self.metric = metric
    }

    public var isDefault: Bool { destination.length == 0 }

    /// `main`, `local` or the table's number, as `ip route` names them.
    public var tableName: String {
        switch table {
        case Route.mainTable: "main"
        case Route.localTable: "local"
        default: "\(table)"
        }
    }
}
