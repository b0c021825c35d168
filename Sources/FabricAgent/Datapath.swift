import FabricABI
import FabricCompiler

/// Where an interface's program hangs.
public enum Hook: String, Sendable, Codable, CaseIterable {
    /// tc egress (clsact), fg_tc_egress.
    case tcEgress = "tc-egress"
    /// XDP in the device driver (native mode), fg_xdp_ingress.
    case xdp
    /// XDP in the generic (skb) path, when the driver has no XDP.
    case xdpGeneric = "xdp-generic"
    /// tc ingress (clsact), fg_tc_ingress: where XDP cannot attach, or on request.
    case tcIngress = "tc-ingress"

    public var direction: Direction { self == .tcEgress ? .egress : .ingress }

    /// A tc hook: attached as a tcx link or a clsact filter.
    public var isTC: Bool { self == .tcEgress || self == .tcIngress }
}

/// How a program hangs on its hook, as the kernel shows it.
public enum HookAttachment: String, Sendable, Codable, CaseIterable {
    /// A tcx BPF link (kernel 6.6+), pinned: no qdisc.
    case tcx
    /// A cls_bpf filter on the clsact qdisc (direct action).
    case clsact
    /// An XDP BPF link, pinned.
    case link
}

/// How the tc hooks are attached: a mode for the whole kernel.
public enum TCAttachMode: String, Sendable, Codable, CaseIterable {
    case tcx, clsact

    public var attachment: HookAttachment { self == .tcx ? .tcx : .clsact }
}

/// What `--tc-attach` asks for.
public enum TCAttachPreference: String, Sendable, CaseIterable {
    /// tcx where the kernel has it, else clsact.
    case auto
    /// tcx, or fail: for kernels known to have it.
    case tcx
    /// clsact even where tcx exists (tools that only read tc filters, tests of the fallback).
    case clsact
}

/// Where fabricguard's tcx programs go among the other programs on a hook.
/// First (the default) means its verdict comes before anyone else's: a
/// program ahead of it could pass (TCX_PASS) or redirect a frame and so take
/// it past enforcement. Its own pass is "next" (TC_ACT_UNSPEC), so the
/// programs after it still see every frame it lets through.
public enum TCOrder: String, Sendable, Codable, CaseIterable {
    case first, last
}

/// Where one tc hook goes: the mode and, for tcx, the place on the hook.
public struct TCPlacement: Sendable, Equatable {
    public var mode: TCAttachMode
    public var order: TCOrder

    public init(mode: TCAttachMode, order: TCOrder) {
        self.mode = mode
        self.order = order
    }

    /// What older records (before tcx) mean: clsact.
    public static let clsact = TCPlacement(mode: .clsact, order: .first)
}

/// Which hook ingress enforcement asks for.
public enum IngressHookPreference: String, Sendable, CaseIterable {
    /// Per interface, the hook that costs less there: tc ingress on link types
    /// where XDP costs more than tc (`tcKinds`), else XDP in driver mode, else tc
    /// ingress. Never generic XDP: it runs after the kernel has built the skb,
    /// where tc ingress already is, and adds a linearized copy.
    case auto
    /// XDP (driver mode, else generic), falling back to tc ingress.
    case xdp
    case tc

    /// Link types whose native XDP costs more than tc ingress, measured
    /// (README "Performance", ingress): attaching XDP to a veth moves its receive
    /// path from the sender's call straight into the stack to a NAPI ring poll,
    /// and an empty XDP program there costs 16–19 % of packets/s where tc
    /// ingress with enforcement keeps 0.93–0.99.
    public static let tcKinds: Set<String> = ["veth"]

    /// The hooks to try, in order, on an interface of link type `kind` (nil: a plain NIC).
    public func candidates(kind: String?) -> [Hook] {
        switch self {
        case .tc: [.tcIngress]
        case .xdp: [.xdp, .xdpGeneric, .tcIngress]
        case .auto: kind.map(Self.tcKinds.contains) == true ? [.tcIngress] : [.xdp, .tcIngress]
        }
    }

    /// Whether `hook`, attached by an earlier apply, is what this preference
    /// would attach now: a tc fallback is not (each apply tries XDP again)
    /// unless tc is the only candidate.
    public func keeps(_ hook: Hook, kind: String?) -> Bool {
        let candidates = candidates(kind: kind)
        return candidates == [hook] || (hook != .tcIngress && candidates.contains(hook))
    }
}

/// A program found on an interface hook.
public struct HookState: Sendable, Equatable, Codable {
    public var hook: Hook
    public var programID: UInt32
    /// How it hangs there: tcx or clsact for the tc hooks, link for XDP.
    public var attach: HookAttachment
    /// tcx: its place among the hook's programs (1 runs first) and how many there are.
    public var position: Int?
    public var hookPrograms: Int?

    public init(hook: Hook, programID: UInt32, attach: HookAttachment? = nil, position: Int? = nil, hookPrograms: Int? = nil) {
        self.hook = hook
        self.programID = programID
        self.attach = attach ?? (hook.isTC ? .clsact : .link)
        self.position = position
        self.hookPrograms = hookPrograms
    }
}

/// The switch between policy generations, as the programs read it.
public struct GenerationState: Sendable, Equatable {
    public var generation: UInt64
    public var activeBank: UInt32
    public var digest: [UInt8]

    public init(generation: UInt64, activeBank: UInt32, digest: [UInt8]) {
        self.generation = generation
        self.activeBank = activeBank
        self.digest = digest
    }
}

/// One counter cell: (counter slot, direction, reason, action).
public struct CounterKey: Sendable, Hashable {
    public var slot: UInt32
    public var direction: Direction
    public var reason: Reason
    public var action: Action

    public init(slot: UInt32, direction: Direction, reason: Reason, action: Action) {
        self.slot = slot
        self.direction = direction
        self.reason = reason
        self.action = action
    }
}

public struct CounterValue: Sendable, Equatable {
    public var packets: UInt64
    public var bytes: UInt64

    public init(packets: UInt64, bytes: UInt64) {
        self.packets = packets
        self.bytes = bytes
    }
}

/// One event bucket: (counter slot, reason).
public struct EventKey: Sendable, Hashable {
    public var slot: UInt32
    public var reason: Reason

    public init(slot: UInt32, reason: Reason) {
        self.slot = slot
        self.reason = reason
    }
}

/// What became of one bucket's violations: every one was sent, suppressed by
/// the rate limit, or found the ring full.
public struct EventTally: Sendable, Equatable {
    public var sent: UInt64
    public var suppressed: UInt64
    public var ringFull: UInt64

    public init(sent: UInt64 = 0, suppressed: UInt64 = 0, ringFull: UInt64 = 0) {
        self.sent = sent
        self.suppressed = suppressed
        self.ringFull = ringFull
    }
}

/// The kernel, as the agent needs it: the one seam between the agent's logic
/// (generations, slots, hook diffs, records) and libbpf. `LinuxDatapath` is
/// the real one; tests drive the agent through an in-memory fake.
public protocol Datapath: AnyObject {
    /// True when an earlier apply left state (pinned maps) behind.
    func isInstalled() throws -> Bool
    /// Loads (verifies) the programs and adopts the pinned maps, if any,
    /// without pinning or attaching anything: what dies with the process if no
    /// `prepare` follows. Idempotent; `prepare` does it when it was not done.
    func loadPrograms() throws
    /// Loads the programs and adopts (or creates and pins) the maps. Nothing
    /// running changes: the new programs are not attached yet.
    func prepare() throws
    /// Opens the pinned maps without loading programs, for a re-apply that keeps
    /// the attached programs (`programIdentity` unchanged, the same hooks).
    func prepareMapsOnly() throws
    /// What `prepare` would load, e.g. a digest of the embedded object: equal
    /// identities mean the attached programs are already the ones to run.
    var programIdentity: String { get }

    func generation() throws -> GenerationState?
    func record() throws -> AgentRecord?

    /// Removes `bank`'s entries from the policy maps that `write` does not
    /// rewrite whole (locals, far interfaces, fabrics).
    func clearBank(_ bank: UInt32) throws
    /// Writes `bank`'s entries (`MapPlan.entries(bank:)`): its ifindex table
    /// whole, its prefix buckets where they differ from what the bank holds
    /// (whole when that is not known), the rest entry by entry.
    func write(_ entries: [MapEntry], bank: UInt32) throws
    /// Makes `bank` the one every packet reads from now on.
    func activate(_ state: GenerationState) throws
    func writeRecord(_ record: AgentRecord) throws

    /// Whether the kernel has tcx (6.6+), asked once.
    var tcxAvailable: Bool { get }
    /// Attaches (or atomically replaces) the prepared program on a hook, a tc
    /// hook as `tc` says (ignored for XDP); true when this created the
    /// interface's clsact qdisc (clsact mode only).
    @discardableResult
    func attach(_ hook: Hook, ifindex: UInt32, tc: TCPlacement) throws -> Bool
    /// Detaches our program from a hook: only the one attached as `only`
    /// (moving between tcx and clsact), or however it is attached when nil.
    func detach(_ hook: Hook, ifindex: UInt32, only: HookAttachment?) throws
    /// Deletes the interface's clsact qdisc when no filter at all (anyone's)
    /// is left on it; true when it did.
    func removeClsactIfUnused(ifindex: UInt32) throws -> Bool
    /// fabricguard's programs on this interface's hooks, as the kernel reports them.
    func hooks(ifindex: UInt32) throws -> [HookState]

    func counters() throws -> [CounterKey: CounterValue]
    /// The event buckets that saw a violation, summed over CPUs.
    func eventTallies() throws -> [EventKey: EventTally]
    func resetCounters(slots: Set<UInt32>) throws

    /// Removes every pin (maps, links) and the pin directory.
    func removePins() throws
}

extension Datapath {
    /// Detaches our program from a hook, however it is attached.
    public func detach(_ hook: Hook, ifindex: UInt32) throws { try detach(hook, ifindex: ifindex, only: nil) }
}
