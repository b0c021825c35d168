import FabricABI
import FabricCompiler
import FabricHost
import FabricPolicy
import FabricSystem
import Foundation

/// Why an agent operation failed: the caller's input (exit 2) or the kernel (exit 1).
public enum AgentError: Error, CustomStringConvertible {
    case policy(PolicyError)
    case kernel(verb: String, cause: any Error)
    /// `ApplyOptions.vet` refused the compiled plan; nothing was changed.
    case refused(String)

    public var description: String {
        switch self {
        case .policy(let error): error.description
        case .kernel(let verb, let cause): "\(verb): \(cause)"
        case .refused(let message): message
        }
    }
}

public struct ApplyOptions: Sendable {
    public var policyPath: String
    public var allowMissing: Bool
    public var ingressHook: IngressHookPreference
    /// When the apply happened (ISO 8601); passed in so the agent stays clock-free.
    public var timestamp: String
    /// Change nothing when the kernel already enforces exactly this plan with
    /// every hook in place: no new generation, no write. The daemon's resyncs
    /// and host events use it, so that a change that does not touch the policy
    /// (an unrelated interface, a duplicate event) costs no swap.
    public var onlyIfChanged: Bool
    /// A last look at the compiled plan before anything is written (the
    /// lockout guard): a message refuses the apply and changes nothing.
    public var vet: (@Sendable (MapPlan) -> String?)?
    /// `apply --confirm`: the rollback deadline to record (ISO 8601).
    public var confirmBy: String?
    /// tcx or clsact for the tc hooks (`--tc-attach`).
    public var tcAttach: TCAttachPreference
    /// Where tcx programs go on their hooks (`--tc-order`); nil keeps the
    /// order of the running policy, first when there is none.
    public var tcOrder: TCOrder?

    public init(
        policyPath: String, allowMissing: Bool = false, ingressHook: IngressHookPreference = .auto, timestamp: String,
        onlyIfChanged: Bool = false, vet: (@Sendable (MapPlan) -> String?)? = nil, confirmBy: String? = nil,
        tcAttach: TCAttachPreference = .auto, tcOrder: TCOrder? = nil
    ) {
        self.tcAttach = tcAttach
        self.tcOrder = tcOrder
        self.vet = vet
        self.confirmBy = confirmBy
        self.policyPath = policyPath
        self.allowMissing = allowMissing
        self.ingressHook = ingressHook
        self.timestamp = timestamp
        self.onlyIfChanged = onlyIfChanged
    }
}

public struct ApplyReport: Sendable, Codable {
    /// False when `onlyIfChanged` found nothing to do (generation is then the running one).
    public var changed: Bool
    public var generation: UInt64
    public var previousGeneration: UInt64?
    public var digest: String
    public var bank: UInt32
    /// True when this apply took over state an earlier one left pinned.
    public var adopted: Bool
    public var interfaces: [AgentRecord.Interface]
    /// Interfaces whose hooks were removed because the policy no longer covers them.
    public var detached: [String]
    public var warnings: [PolicyDiagnostic]
    /// Interfaces whose ingress hook is not the first one asked for (another
    /// tool's XDP program holds the interface, the driver has no XDP, ...).
    public var ingressFallbacks: [IngressFallback]
    public var timings: ApplyTimings
}

/// An interface's ingress on a later candidate hook, and why the earlier ones refused.
public struct IngressFallback: Sendable, Codable, Equatable, CustomStringConvertible {
    public struct Refusal: Sendable, Codable, Equatable {
        public var hook: Hook
        public var error: String
    }

    public var interface: String
    public var hook: Hook
    public var refused: [Refusal]

    public var description: String {
        "\(interface): ingress on \(hook.rawValue); " + refused.map { "\($0.hook.rawValue) refused: \($0.error)" }.joined(separator: "; ")
    }
}

/// Where an apply spent its time, in milliseconds from the start of `Agent.apply`
/// (the policy is already loaded): `visible` is when the new generation took
/// effect for packets, `total` includes detaching stale hooks and the record.
/// `programWait` is the part of `compile` spent waiting for programs that
/// `preloadPrograms` started loading before the policy was read.
public struct ApplyTimings: Sendable, Codable, Equatable {
    public var programWaitMs: Double
    public var compileMs: Double
    public var mapsMs: Double
    public var hooksMs: Double
    public var visibleMs: Double
    public var totalMs: Double
}

public struct StatusReport: Sendable, Codable {
    public var installed: Bool
    /// True when everything the record says is attached is attached, every
    /// interface the policy lists is there with its hooks, and every redirect
    /// target is up. `status` exits 4 when false.
    public var healthy: Bool
    public var problems: [Problem]
    /// The pid of the `fabricguard run` that owns this pin directory, if one runs.
    public var daemonPID: Int32?
    public var generation: UInt64?
    public var activeBank: UInt32?
    public var digest: String?
    public var policy: String?
    public var appliedAt: String?
    /// `apply --confirm`: when the previous generation comes back unless confirmed.
    public var confirmBy: String?
    public var interfaces: [Interface]

    public struct Interface: Sendable, Codable {
        public var name: String
        public var ifindex: UInt32
        public var fabric: String
        public var egressMode: String
        public var ingressMode: String
        /// What the kernel reports on the hooks now.
        public var hooks: [HookState]
        /// Hooks the record says are attached but the kernel does not show.
        public var missing: [Hook]
        /// tcx: where the last apply put the tc programs (`--tc-order`).
        public var tcOrder: TCOrder?
        /// The ingress hooks the last apply tried before the attached one, and why they refused.
        public var ingressRefused: [IngressFallback.Refusal]?
    }

    /// Something that leaves the host less protected than the policy says.
    public struct Problem: Sendable, Codable, Equatable {
        public enum Kind: String, Sendable, Codable {
            /// A policy interface is not on the host (never was, or went away).
            case interfaceMissing = "interface_missing"
            /// A hook the policy wants is not attached (removed behind our back,
            /// or the interface appeared after the apply and nobody attached it).
            case hookMissing = "hook_missing"
            /// An interface redirected traffic may need is down or without carrier.
            case redirectTargetDown = "redirect_target_down"
            /// The interface was re-created: its name now has another ifindex than the hooks'.
            case staleIfindex = "stale_ifindex"
            /// Pins without a finished apply: the first apply died half-way.
            case partialApply = "partial_apply"
        }

        public var interface: String?
        public var problem: Kind
        /// The same in words, for people.
        public var detail: String

        public init(interface: String?, problem: Kind, detail: String) {
            self.interface = interface
            self.problem = problem
            self.detail = detail
        }
    }
}

/// apply / status / stats / unload over a `Datapath`. The policy logic lives
/// here (generations, counter slots, which hooks to attach and detach); the
/// datapath only does what it is told.
public final class Agent {
    public let datapath: any Datapath
    private var preload: ProgramPreload?

    public init(datapath: any Datapath) { self.datapath = datapath }

    /// When nothing is installed yet, starts loading the programs on another
    /// thread, so that the kernel's verification (a third of a second here)
    /// overlaps with reading the policy and the host. `apply` waits for it
    /// before it touches the datapath and reports its failure; until then the
    /// caller must not use the agent.
    public func preloadPrograms() {
        guard preload == nil, (try? datapath.isInstalled()) == false else { return }
        preload = ProgramPreload(datapath)
    }

    /// Compiles `policy` for `host` and makes it the running policy without a
    /// window: the standby bank is filled completely, hooks are attached, the
    /// bank is flipped in one map write, and only then are stale hooks removed.
    /// A failure before the flip leaves the running policy as it was.
    public func apply(policy: Policy, host: HostInventory, options: ApplyOptions) throws(AgentError) -> ApplyReport {
        let clock = ContinuousClock()
        let start = clock.now
        func elapsed() -> Double { (clock.now - start).milliseconds }
        var timings = ApplyTimings(programWaitMs: 0, compileMs: 0, mapsMs: 0, hooksMs: 0, visibleMs: 0, totalMs: 0)
        let preloadFailure = preload?.wait()
        preload = nil
        timings.programWaitMs = elapsed()
        let previous: AgentRecord?
        let state: GenerationState?
        do {
            let installed = try datapath.isInstalled()
            previous = installed ? try datapath.record() : nil
            state = installed ? try datapath.generation() : nil
        } catch {
            throw .kernel(verb: "read the running policy", cause: error)
        }

        let compilation: Compilation
        do {
            compilation = try PolicyCompiler.compile(
                policy, host: host,
                options: CompileOptions(allowMissing: options.allowMissing, counterSlots: previous?.counterSlots ?? [:]))
        } catch {
            throw .policy(error)
        }
        let plan = compilation.plan
        if let refusal = options.vet?(plan) { throw .refused(refusal) }
        // Once: a pass over every prefix (a quarter of a second at a million).
        let digest = plan.digest
        let digestText = Digest.text(digest)
        let placement = try tcPlacement(options, previous: previous)

        // Hooks already in place are kept per interface: same programs, same
        // interface, the same hooks wanted, and the kernel still showing each.
        // Only interfaces without them (new, re-created, hooks removed behind
        // our back) are attached, so programs are loaded only when one needs it.
        let kinds = Dictionary(host.interfaces.map { ($0.index, $0.kind) }, uniquingKeysWith: { first, _ in first })
        let kept = keptHooks(plan: plan, previous: previous, preference: options.ingressHook, kinds: kinds, tc: placement)
        let needsPrograms = plan.interfaces.contains { entry in
            kept[entry.ifindex] == nil && (entry.egress.mode != .off || entry.ingress.mode != .off)
        }
        var slots = previous?.counterSlots ?? [:]
        for entry in plan.interfaces { slots[entry.name] = entry.counterSlot }
        let fabrics = policy.fabrics.map { fabric in
            let egress = fabric.effectiveEgress(policy.egress)
            return AgentRecord.Fabric(
                name: fabric.name, interfaces: fabric.interfaces,
                redirect: egress.mode == .enforce && egress.action == .redirect)
        }

        /// Whether earlier applies created this ifindex's clsact qdisc.
        func createdClsact(_ ifindex: UInt32) -> Bool {
            previous?.interfaces.first { $0.ifindex == ifindex }?.createdClsact ?? false
        }

        if options.onlyIfChanged, let previous, let state, !needsPrograms, previous.digest == digestText,
           previous.policy == options.policyPath, previous.counterSlots == slots, previous.fabrics == fabrics,
           previous.interfaces == plan.interfaces.map({ entry in
               AgentRecord.Interface(entry, hooks: kept[entry.ifindex] ?? [], createdClsact: createdClsact(entry.ifindex), tc: placement)
           })
        {
            timings.compileMs = elapsed()
            timings.totalMs = timings.compileMs
            return ApplyReport(
                changed: false, generation: state.generation, previousGeneration: state.generation, digest: digestText,
                bank: state.activeBank, adopted: true, interfaces: previous.interfaces, detached: [],
                warnings: compilation.warnings, ingressFallbacks: [], timings: timings)
        }

        let generation = (state?.generation ?? 0) + 1
        // Generation 0 means nothing was ever activated: bank 0 is free to use.
        let firstActivation = (state?.generation ?? 0) == 0
        let bank: UInt32 = firstActivation ? 0 : (state!.activeBank ^ 1)
        // The map contents, prefix buckets laid out, are the compiler's output too.
        let buckets = PrefixBuckets(plan.prefixes, locals: plan.locals)
        let entries = plan.entries(bank: bank, buckets: buckets)
        timings.compileMs = elapsed()

        var attachedNow: [(Hook, UInt32)] = []
        var applied: [AgentRecord.Interface] = []
        var fallbacks: [IngressFallback] = []
        do {
            if let preloadFailure { throw preloadFailure }
            if needsPrograms { try datapath.prepare() } else { try datapath.prepareMapsOnly() }
            let knownSlots = Set((previous?.counterSlots ?? [:]).values)
            try datapath.resetCounters(slots: Set(plan.interfaces.map(\.counterSlot)).subtracting(knownSlots))
            try datapath.clearBank(bank)
            try datapath.write(entries, bank: bank)
            if firstActivation {
                // Neither bank is live yet: the other one gets the same contents, so
                // that its prefix buckets exist at this size and the next apply writes
                // them in place instead of swapping in a new array (which waits for an
                // RCU grace period before the flip).
                try datapath.clearBank(bank ^ 1)
                try datapath.write(plan.entries(bank: bank ^ 1, buckets: buckets), bank: bank ^ 1)
            }
            timings.mapsMs = elapsed()

            for entry in plan.interfaces {
                var created = createdClsact(entry.ifindex)
                let earlier = previous?.interfaces.first { $0.ifindex == entry.ifindex }
                if let hooks = kept[entry.ifindex] {
                    var interface = AgentRecord.Interface(entry, hooks: hooks, createdClsact: created, tc: placement)
                    interface.ingressRefused = earlier?.ingressRefused
                    applied.append(interface)
                    continue
                }
                var hooks: [Hook] = []
                var ingressRefused: [IngressFallback.Refusal]?
                if entry.egress.mode != .off {
                    created = try datapath.attach(.tcEgress, ifindex: entry.ifindex, tc: placement) || created
                    attachedNow.append((.tcEgress, entry.ifindex))
                    hooks.append(.tcEgress)
                    moveOff(.tcEgress, earlier: earlier, to: placement)
                }
                if entry.ingress.mode != .off {
                    let earlierHook = earlier?.hooks.first { $0.direction == .ingress }
                    let (hook, createdNow, refused) = try attachIngress(
                        ifindex: entry.ifindex, candidates: options.ingressHook.candidates(kind: kinds[entry.ifindex] ?? nil),
                        earlier: earlierHook, tc: placement)
                    created = created || createdNow
                    if !refused.isEmpty {
                        fallbacks.append(IngressFallback(interface: entry.name, hook: hook, refused: refused))
                        ingressRefused = refused
                    }
                    attachedNow.append((hook, entry.ifindex))
                    hooks.append(hook)
                    if hook == earlierHook { moveOff(hook, earlier: earlier, to: placement) }
                }
                var interface = AgentRecord.Interface(entry, hooks: hooks, createdClsact: created, tc: placement)
                interface.ingressRefused = ingressRefused
                applied.append(interface)
            }
            timings.hooksMs = elapsed()
            try datapath.activate(GenerationState(generation: generation, activeBank: bank, digest: digest))
            timings.visibleMs = elapsed()
        } catch {
            // Hooks this apply added where none of ours were before go again; the
            // ones it replaced keep enforcing the running (unflipped) policy.
            let before = Set((previous?.interfaces ?? []).flatMap { interface in interface.hooks.map { "\($0)@\(interface.ifindex)" } })
            for (hook, ifindex) in attachedNow where !before.contains("\(hook)@\(ifindex)") {
                try? datapath.detach(hook, ifindex: ifindex)
            }
            throw .kernel(verb: "apply \(options.policyPath)", cause: error)
        }

        // After the flip: remove our hooks that the new policy does not want.
        var detached: [String] = []
        for interface in previous?.interfaces ?? [] {
            let wanted = applied.first { $0.ifindex == interface.ifindex }?.hooks ?? []
            let stale = interface.hooks.filter { !wanted.contains($0) }
            for hook in stale { try? datapath.detach(hook, ifindex: interface.ifindex) }
            if !stale.isEmpty { detached.append(interface.name) }
        }

        var record = AgentRecord(
            policy: options.policyPath, generation: generation, digest: digestText, appliedAt: options.timestamp,
            interfaces: applied, counterSlots: slots, programs: datapath.programIdentity, fabrics: fabrics)
        record.confirmBy = options.confirmBy
        do {
            try datapath.writeRecord(record)
        } catch {
            throw .kernel(verb: "record the applied policy", cause: error)
        }
        timings.totalMs = elapsed()
        return ApplyReport(
            changed: true, generation: generation, previousGeneration: state.map(\.generation), digest: digestText, bank: bank,
            adopted: previous != nil, interfaces: applied, detached: detached, warnings: compilation.warnings,
            ingressFallbacks: fallbacks, timings: timings)
    }

    /// The tc attach mode and order this apply uses: tcx where the kernel has
    /// it (unless clsact is asked for), the order asked for, else the running one's.
    func tcPlacement(_ options: ApplyOptions, previous: AgentRecord?) throws(AgentError) -> TCPlacement {
        let mode: TCAttachMode
        switch options.tcAttach {
        case .clsact: mode = .clsact
        case .auto: mode = datapath.tcxAvailable ? .tcx : .clsact
        case .tcx:
            guard datapath.tcxAvailable else {
                throw .kernel(
                    verb: "apply \(options.policyPath)",
                    cause: SystemError(
                        verb: "attach the tc programs as", object: "tcx links", errno: EOPNOTSUPP,
                        detail: "this kernel has no tcx (Linux 6.6 and later); use --tc-attach auto or clsact"))
            }
            mode = .tcx
        }
        let order = options.tcOrder ?? previous?.interfaces.lazy.compactMap(\.tcOrder).first ?? .first
        return TCPlacement(mode: mode, order: order)
    }

    /// After `hook` was attached as `placement` says, removes our program
    /// attached to it the other way (tcx <-> clsact) by an earlier apply: the
    /// new one runs already, so there is no moment without either.
    private func moveOff(_ hook: Hook, earlier: AgentRecord.Interface?, to placement: TCPlacement) {
        guard hook.isTC, let earlier, earlier.hooks.contains(hook) else { return }
        let was = earlier.tcPlacement.mode
        if was != placement.mode { try? datapath.detach(hook, ifindex: earlier.ifindex, only: was.attachment) }
    }

    /// The hooks by ifindex of the interfaces whose attached programs this
    /// apply can keep as they are: same programs, same interface, the same
    /// hooks wanted, attached the same way (tc mode and order), and the kernel
    /// still showing each of them. Interfaces not in the result get their hooks attached.
    func keptHooks(
        plan: MapPlan, previous: AgentRecord?, preference: IngressHookPreference, kinds: [UInt32: String?], tc: TCPlacement
    ) -> [UInt32: [Hook]] {
        guard let previous, previous.programs == datapath.programIdentity else { return [:] }
        var kept: [UInt32: [Hook]] = [:]
        for entry in plan.interfaces {
            guard let earlier = previous.interfaces.first(where: { $0.ifindex == entry.ifindex }) else { continue }
            let ingress = earlier.hooks.first { $0.direction == .ingress }
            let ingressKept = entry.ingress.mode == .off ? ingress == nil
                : ingress.map { preference.keeps($0, kind: kinds[entry.ifindex] ?? nil) } ?? false
            let usesTC = earlier.hooks.contains { $0.isTC }
            // clsact has no order among programs: only its mode must match.
            let was = earlier.tcPlacement
            let sameTC = !usesTC || (was.mode == tc.mode && (tc.mode == .clsact || was.order == tc.order))
            guard ingressKept, sameTC, earlier.hooks.contains(.tcEgress) == (entry.egress.mode != .off),
                  let present = try? datapath.hooks(ifindex: entry.ifindex),
                  earlier.hooks.allSatisfy({ hook in
                      present.contains { $0.hook == hook && (!hook.isTC || $0.attach == tc.mode.attachment) }
                  })
            else { continue }
            kept[entry.ifindex] = earlier.hooks
        }
        return kept
    }

    /// The first of `candidates` that attaches (IngressHookPreference.candidates).
    /// The hook it attached, whether that created the clsact qdisc, and the
    /// candidates tried before it with their errors.
    func attachIngress(ifindex: UInt32, candidates: [Hook], earlier: Hook?, tc: TCPlacement) throws
        -> (Hook, Bool, [IngressFallback.Refusal])
    {
        var candidates = candidates
        // An XDP link keeps the mode it was made in: try that mode first. (A tc
        // fallback is not preferred: each apply tries XDP again.)
        if let earlier, earlier == .xdp || earlier == .xdpGeneric, candidates.contains(earlier) {
            candidates.removeAll { $0 == earlier }
            candidates.insert(earlier, at: 0)
        }
        var refused: [IngressFallback.Refusal] = []
        var lastError: (any Error)?
        for hook in candidates {
            do {
                let created = try datapath.attach(hook, ifindex: ifindex, tc: tc)
                // Moving from XDP to tc (or back) must not leave both attached.
                if let earlier, earlier != hook { try? datapath.detach(earlier, ifindex: ifindex) }
                return (hook, created, refused)
            } catch {
                refused.append(IngressFallback.Refusal(hook: hook, error: "\(error)"))
                lastError = error
            }
        }
        throw lastError!
    }

    /// What runs, judged against the host as it is now (`host`: its interfaces).
    public func status(host: [HostInterface]) throws(AgentError) -> StatusReport {
        do {
            guard try datapath.isInstalled() else {
                return StatusReport(installed: false, healthy: false, problems: [], interfaces: [])
            }
            let state = try datapath.generation()
            guard let record = try datapath.record(), (state?.generation ?? 0) > 0 else {
                let problem = StatusReport.Problem(
                    interface: nil, problem: .partialApply,
                    detail: "pins without a finished apply (the first apply died half-way): apply again, or unload")
                return StatusReport(installed: true, healthy: false, problems: [problem], interfaces: [])
            }
            let interfaces = try record.interfaces.map { interface in
                let hooks = try datapath.hooks(ifindex: interface.ifindex)
                return StatusReport.Interface(
                    name: interface.name, ifindex: interface.ifindex, fabric: interface.fabric,
                    egressMode: interface.egressMode, ingressMode: interface.ingressMode, hooks: hooks,
                    missing: interface.hooks.filter { hook in !hooks.contains { $0.hook == hook } }, tcOrder: interface.tcOrder,
                    ingressRefused: interface.ingressRefused)
            }
            let problems = Self.problems(record: record, interfaces: interfaces, host: host)
            var report = StatusReport(
                installed: true, healthy: problems.isEmpty, problems: problems, generation: state?.generation,
                activeBank: state?.activeBank, digest: state.map { Digest.text($0.digest) }, policy: record.policy,
                appliedAt: record.appliedAt, interfaces: interfaces)
            report.confirmBy = record.confirmBy
            return report
        } catch {
            throw .kernel(verb: "read status", cause: error)
        }
    }

    /// The record's promises held against the kernel's hooks and the live host.
    static func problems(record: AgentRecord, interfaces: [StatusReport.Interface], host: [HostInterface]) -> [StatusReport.Problem] {
        var problems: [StatusReport.Problem] = []
        let byName = Dictionary(host.map { ($0.name, $0) }, uniquingKeysWith: { first, _ in first })
        for interface in interfaces {
            guard let live = byName[interface.name] else {
                problems.append(.init(
                    interface: interface.name, problem: .interfaceMissing,
                    detail: "\(interface.name) (ifindex \(interface.ifindex)) is gone from the host"))
                continue
            }
            if live.index != interface.ifindex {
                problems.append(.init(
                    interface: interface.name, problem: .staleIfindex,
                    detail: "\(interface.name) is now ifindex \(live.index), its hooks were on ifindex \(interface.ifindex) (re-created)"))
            } else if !interface.missing.isEmpty {
                problems.append(.init(
                    interface: interface.name, problem: .hookMissing,
                    detail: "\(interface.name) lacks \(interface.missing.map(\.rawValue).joined(separator: ", "))"))
            }
        }
        for fabric in record.fabrics ?? [] {
            for name in fabric.interfaces {
                let live = byName[name]
                if !interfaces.contains(where: { $0.name == name }) {
                    problems.append(live == nil
                        ? .init(interface: name, problem: .interfaceMissing, detail: "\(name) of fabric \(fabric.name) is not on the host")
                        : .init(interface: name, problem: .hookMissing, detail: "\(name) of fabric \(fabric.name) appeared after the apply and is not enforced"))
                }
                if fabric.redirect, let live, !live.usable {
                    problems.append(.init(
                        interface: name, problem: .redirectTargetDown,
                        detail: "\(name), a redirect target of fabric \(fabric.name), is \(live.up ? "without carrier" : "down")"))
                }
            }
        }
        return problems
    }

    /// `fabricguard confirm`: the record no longer names a rollback deadline.
    public func clearConfirmation() throws(AgentError) {
        do {
            guard var record = try datapath.record(), record.confirmBy != nil else { return }
            record.confirmBy = nil
            try datapath.writeRecord(record)
        } catch {
            throw .kernel(verb: "record the confirmation", cause: error)
        }
    }

    /// The kernel's counters per interface, direction, reason and action.
    public func stats(includeZeros: Bool = false) throws(AgentError) -> CounterReport {
        do {
            guard try datapath.isInstalled() else { return CounterReport(counters: []) }
            let record = try datapath.record()
            var rows: [CounterReport.Row] = []
            for (key, value) in try datapath.counters() where value.packets != 0 || includeZeros {
                let name = key.slot == ABILimits.unmanagedSlot ? "(unmanaged)" : record?.interfaceName(slot: key.slot) ?? "slot \(key.slot)"
                rows.append(CounterReport.Row(
                    interface: name, direction: key.direction, reason: key.reason, action: key.action, packets: value.packets,
                    bytes: value.bytes))
            }
            let events = try datapath.eventTallies().map { key, tally in
                CounterReport.EventRow(
                    interface: key.slot == ABILimits.unmanagedSlot ? "(unmanaged)" : record?.interfaceName(slot: key.slot) ?? "slot \(key.slot)",
                    reason: key.reason, sent: tally.sent, suppressed: tally.suppressed, ringFull: tally.ringFull)
            }
            return CounterReport(counters: rows, events: events)
        } catch {
            throw .kernel(verb: "read counters", cause: error)
        }
    }

    /// Detaches every hook of ours and removes the pins. Idempotent: returns
    /// false when there was nothing to unload.
    public func unload(interfaces: [HostInterface]) throws(AgentError) -> Bool {
        do {
            let installed = try datapath.isInstalled()
            let record = installed ? try datapath.record() : nil
            // The record's interfaces, and every interface of the host in case a
            // crash left a hook the record does not know about.
            var ifindexes = Set((record?.interfaces ?? []).map(\.ifindex))
            ifindexes.formUnion(interfaces.map(\.index))
            var found = installed
            for ifindex in ifindexes.sorted() {
                for state in try datapath.hooks(ifindex: ifindex) {
                    try datapath.detach(state.hook, ifindex: ifindex)
                    found = true
                }
            }
            // A clsact qdisc our applies created goes too, unless another tool's filter uses it.
            let live = Set(interfaces.map(\.index))
            for interface in record?.interfaces ?? [] where interface.createdClsact == true && live.contains(interface.ifindex) {
                _ = try datapath.removeClsactIfUnused(ifindex: interface.ifindex)
            }
            if installed { try datapath.removePins() }
            return found
        } catch {
            throw .kernel(verb: "unload", cause: error)
        }
    }
}

/// One `loadPrograms` on its own thread. The datapath is used by that thread
/// alone until `wait` returns, which is what makes the unchecked Sendable true.
private final class ProgramPreload: @unchecked Sendable {
    private let datapath: any Datapath
    private let done = DispatchSemaphore(value: 0)
    private var failure: (any Error)?

    init(_ datapath: any Datapath) {
        self.datapath = datapath
        Thread { [self] in
            do { try self.datapath.loadPrograms() } catch { failure = error }
            done.signal()
        }.start()
    }

    /// Blocks until the load is over: its error, nil when it succeeded.
    func wait() -> (any Error)? {
        done.wait()
        return failure
    }
}
