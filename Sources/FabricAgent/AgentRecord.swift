import FabricCompiler

/// What the agent applied, kept as JSON in the pinned fg_agent_meta map so it
/// lives and dies with the pins: `status`, `stats` and the next `apply` read it.
/// Its keys are spelled out (not left to a key strategy): it is read back by
/// later versions, and `counterSlots` is keyed by interface names, which a
/// snake-case strategy would rewrite.
public struct AgentRecord: Sendable, Equatable, Codable {
    public static let currentVersion = 1

    public var version: Int
    public var policy: String
    public var generation: UInt64
    public var digest: String
    public var appliedAt: String
    public var interfaces: [Interface]
    /// Every counter slot ever given out in this pin directory (removed interfaces included).
    public var counterSlots: [String: UInt32]
    /// The attached programs' identity (`Datapath.programIdentity`); absent in older records.
    public var programs: String?
    /// The policy's fabrics as applied, so that `status` can name what the host
    /// lacks (a listed interface missing, a redirect target down) without the
    /// policy file; absent in older records.
    public var fabrics: [Fabric]?
    /// `apply --confirm`: when the previous generation comes back unless
    /// `fabricguard confirm` runs first (ISO 8601); nil when nothing is pending.
    public var confirmBy: String?

    public struct Fabric: Sendable, Equatable, Codable {
        public var name: String
        /// Every interface the policy lists, present on the host or not.
        public var interfaces: [String]
        /// Egress violations are redirected (enforce + redirect): its interfaces are redirect targets.
        public var redirect: Bool

        public init(name: String, interfaces: [String], redirect: Bool) {
            self.name = name
            self.interfaces = interfaces
            self.redirect = redirect
        }
    }

    public struct Interface: Sendable, Equatable, Codable {
        public var name: String
        public var ifindex: UInt32
        public var fabric: String
        public var counterSlot: UInt32
        public var hooks: [Hook]
        public var egressMode: String
        public var ingressMode: String
        /// This pin directory's applies created the interface's clsact qdisc:
        /// `unload` deletes it again once no filter is left on it.
        public var createdClsact: Bool?
        /// How its tc hooks are attached, and (tcx) where among a hook's
        /// programs; nil without a tc hook. Records older than tcx have none:
        /// their tc hooks are clsact filters.
        public var tcAttach: TCAttachMode?
        public var tcOrder: TCOrder?
        /// The ingress hooks tried before the one attached, with their errors
        /// (another tool's XDP program, a driver without XDP); nil when the
        /// first hook asked for attached, and in records older than this field.
        public var ingressRefused: [IngressFallback.Refusal]?

        /// Where its tc hooks are, older records' clsact filters included.
        var tcPlacement: TCPlacement { TCPlacement(mode: tcAttach ?? .clsact, order: tcOrder ?? .first) }

        enum CodingKeys: String, CodingKey {
            case name, ifindex, fabric, hooks
            case counterSlot = "counter_slot"
            case egressMode = "egress_mode"
            case ingressMode = "ingress_mode"
            case createdClsact = "created_clsact"
            case tcAttach = "tc_attach"
            case tcOrder = "tc_order"
            case ingressRefused = "ingress_refused"
        }

        /// A compiled interface with the hooks it has, its tc hooks attached as `tc` says.
        init(_ entry: InterfaceEntry, hooks: [Hook], createdClsact: Bool, tc: TCPlacement) {
            name = entry.name
            ifindex = entry.ifindex
            fabric = entry.fabric
            counterSlot = entry.counterSlot
            self.hooks = hooks
            egressMode = entry.egress.mode.rawValue
            ingressMode = entry.ingress.mode.rawValue
            self.createdClsact = createdClsact ? true : nil
            if hooks.contains(where: \.isTC) {
                tcAttach = tc.mode
                tcOrder = tc.mode == .tcx ? tc.order : nil
            }
        }
    }

    public init(
        policy: String, generation: UInt64, digest: String, appliedAt: String, interfaces: [Interface],
        counterSlots: [String: UInt32], programs: String? = nil, fabrics: [Fabric]? = nil
    ) {
        version = AgentRecord.currentVersion
        self.policy = policy
        self.generation = generation
        self.digest = digest
        self.appliedAt = appliedAt
        self.interfaces = interfaces
        self.counterSlots = counterSlots
        self.programs = programs
        self.fabrics = fabrics
    }

    enum CodingKeys: String, CodingKey {
        case version, policy, generation, digest, interfaces, programs, fabrics
        case appliedAt = "applied_at"
        case confirmBy = "confirm_by"
        case counterSlots = "counter_slots"
    }

    /// The interface name a counter slot belongs to (also for removed interfaces).
    public func interfaceName(slot: UInt32) -> String? {
        counterSlots.first { $0.value == slot }?.key
    }
}
