import FabricAgent
import FabricCompiler
import FabricFixtures
import FabricHost
import FabricPolicy
import Testing

/// The agent's logic over an in-memory datapath: no root, no kernel.
final class FakeDatapath: Datapath {
    var installed = false
    var state: GenerationState?
    var stored: AgentRecord?
    var banks: [UInt32: [MapEntry]] = [:]
    var attached: Set<String> = []
    var journal: [String] = []
    /// Hooks that refuse to attach, as a driver without XDP would.
    var refuses: Set<Hook> = []
    /// Fail the next write (a full map, say).
    var failWrite = false

    struct Refused: Error {}

    func isInstalled() throws -> Bool { installed }
    var loadFailure: (any Error)?
    func loadPrograms() throws {
        journal.append("load programs")
        if let loadFailure { throw loadFailure }
    }
    func prepare() throws {
        installed = true
        journal.append("prepare")
    }
    func prepareMapsOnly() throws { journal.append("prepare maps") }
    var programIdentity = "programs-1"
    func generation() throws -> GenerationState? { state }
    func record() throws -> AgentRecord? { stored }
    func clearBank(_ bank: UInt32) throws {
        banks[bank] = []
        journal.append("clear \(bank)")
    }
    func write(_ entries: [MapEntry], bank: UInt32) throws {
        if failWrite { throw Refused() }
        banks[bank] = entries
        journal.append("write \(entries.count)")
    }
    func activate(_ state: GenerationState) throws {
        self.state = state
        journal.append("activate \(state.generation) bank \(state.activeBank)")
    }
    func writeRecord(_ record: AgentRecord) throws { stored = record }
    /// Interfaces with a clsact qdisc (made by the first clsact attach there).
    var clsact: Set<UInt32> = []
    /// Whether the "kernel" has tcx; the tc hooks' attachment by "hook@ifindex".
    var tcxAvailable = false
    var modes: [String: HookAttachment] = [:]
    func attach(_ hook: Hook, ifindex: UInt32, tc: TCPlacement) throws -> Bool {
        if refuses.contains(hook) { throw Refused() }
        attached.insert("\(hook.rawValue)@\(ifindex)")
        guard hook.isTC else {
            journal.append("attach \(hook.rawValue)@\(ifindex)")
            return false
        }
        modes["\(hook.rawValue)@\(ifindex)"] = tc.mode.attachment
        journal.append("attach \(hook.rawValue)@\(ifindex)" + (tc.mode == .tcx ? " tcx \(tc.order)" : ""))
        return tc.mode == .clsact && clsact.insert(ifindex).inserted
    }
    func removeClsactIfUnused(ifindex: UInt32) throws -> Bool {
        journal.append("remove clsact@\(ifindex)")
        return clsact.remove(ifindex) != nil
    }
    func detach(_ hook: Hook, ifindex: UInt32, only: HookAttachment?) throws {
        let key = "\(hook.rawValue)@\(ifindex)"
        if let only {
            journal.append("detach \(key) \(only)")
            // The moved hook's other attachment: the hook itself stays.
            if modes[key] == only { attached.remove(key) }
            return
        }
        attached.remove(key)
        journal.append("detach \(key)")
    }
    func hooks(ifindex: UInt32) throws -> [HookState] {
        Hook.allCases.filter { attached.contains("\($0.rawValue)@\(ifindex)") }.map {
            HookState(hook: $0, programID: 1, attach: modes["\($0.rawValue)@\(ifindex)"])
        }
    }
    func eventTallies() throws -> [EventKey: EventTally] { [:] }
    func counters() throws -> [CounterKey: CounterValue] {
        [CounterKey(slot: 0, direction: .egress, reason: .foreignSource, action: .drop): CounterValue(packets: 3, bytes: 300)]
    }
    func resetCounters(slots: Set<UInt32>) throws { journal.append("reset \(slots.sorted())") }
    func removePins() throws {
        installed = false
        stored = nil
        state = nil
        journal.append("remove pins")
    }
}

@Suite("Agent over a fake datapath")
struct AgentTests {
    static let options = ApplyOptions(policyPath: "/etc/fabricguard/p.yaml", timestamp: "2026-11-25T00:00:00Z")

    static func policy(_ yaml: String = FixtureWorld.policyYAML) throws -> Policy { try PolicyLoader.parse(yaml: yaml) }

    @Test func firstApplyFillsBankZeroThenFlips() throws {
        let fake = FakeDatapath()
        let report = try Agent(datapath: fake).apply(policy: Self.policy(), host: FixtureWorld.host, options: Self.options)
        #expect(report.generation == 1 && report.bank == 0 && !report.adopted)
        // Order is the contract: fill the standby bank completely, attach, then flip.
        let activate = try #require(fake.journal.firstIndex { $0.hasPrefix("activate") })
        #expect(fake.journal.firstIndex { $0.hasPrefix("write") }! < activate)
        #expect(fake.journal.lastIndex { $0.hasPrefix("attach") }! < activate)
        #expect(fake.journal[activate] == "activate 1 bank 0")
        // Neither bank was live: both are written, so the next apply finds buckets of this size.
        #expect(fake.journal.filter { $0.hasPrefix("clear") } == ["clear 0", "clear 1"])
        // sand0 has ingress off: egress only. Management and unlisted interfaces: nothing.
        #expect(fake.attached.contains("tc-egress@7") && !fake.attached.contains("xdp@7"))
        #expect(!fake.attached.contains { $0.hasSuffix("@2") || $0.hasSuffix("@8") })
        #expect(fake.attached.contains("xdp@3"))
        #expect(fake.stored?.generation == 1)
    }

    @Test func aFirstApplyWaitsForThePreloadedProgramsAndReportsTheirFailure() throws {
        let fake = FakeDatapath()
        let agent = Agent(datapath: fake)
        agent.preloadPrograms()
        _ = try agent.apply(policy: Self.policy(), host: FixtureWorld.host, options: Self.options)
        #expect(Array(fake.journal.prefix(2)) == ["load programs", "prepare"], "\(fake.journal)")
        // Installed already: nothing is preloaded (a swap may load nothing at all).
        fake.journal = []
        agent.preloadPrograms()
        _ = try agent.apply(policy: Self.policy(), host: FixtureWorld.host, options: Self.options)
        #expect(!fake.journal.contains("load programs"))

        struct Refused: Error, CustomStringConvertible { var description: String { "load BPF object: Operation not permitted" } }
        let refusing = FakeDatapath()
        refusing.loadFailure = Refused()
        let failing = Agent(datapath: refusing)
        failing.preloadPrograms()
        let error = #expect(throws: AgentError.self) {
            try failing.apply(policy: Self.policy(), host: FixtureWorld.host, options: Self.options)
        }
        #expect(error?.description == "apply /etc/fabricguard/p.yaml: load BPF object: Operation not permitted")
        #expect(refusing.journal == ["load programs"] && !refusing.installed, "nothing written: \(refusing.journal)")
    }

    @Test func aSwapKeepsTheAttachedProgramsUnlessTheyChangedOrWentMissing() throws {
        let fake = FakeDatapath()
        let agent = Agent(datapath: fake)
        _ = try agent.apply(policy: Self.policy(), host: FixtureWorld.host, options: Self.options)
        // Same programs, same hooks: only maps are written and flipped.
        fake.journal = []
        _ = try agent.apply(policy: Self.policy(), host: FixtureWorld.host, options: Self.options)
        #expect(fake.journal.first == "prepare maps")
        #expect(!fake.journal.contains { $0.hasPrefix("attach") || $0.hasPrefix("detach") }, "\(fake.journal)")
        #expect(fake.journal.contains("activate 2 bank 1"))
        #expect(fake.journal.filter { $0.hasPrefix("clear") } == ["clear 1"], "a swap writes the standby bank only")
        // Someone removed a hook behind our back: the apply loads and attaches again.
        fake.attached.remove("xdp@3")
        fake.journal = []
        _ = try agent.apply(policy: Self.policy(), host: FixtureWorld.host, options: Self.options)
        #expect(fake.journal.first == "prepare" && fake.attached.contains("xdp@3"))
        // A binary with other programs: load and replace them.
        fake.programIdentity = "programs-2"
        fake.journal = []
        _ = try agent.apply(policy: Self.policy(), host: FixtureWorld.host, options: Self.options)
        #expect(fake.journal.first == "prepare" && fake.journal.contains { $0.hasPrefix("attach") })
        #expect(fake.stored?.programs == "programs-2")
        // Asking for tc ingress where XDP hangs is a change of hooks, not a swap.
        fake.journal = []
        var tc = Self.options
        tc.ingressHook = .tc
        _ = try agent.apply(policy: Self.policy(), host: FixtureWorld.host, options: tc)
        #expect(fake.journal.contains("attach tc-ingress@3"))
    }

    @Test func reapplyFlipsBanksAndAdopts() throws {
        let fake = FakeDatapath()
        let agent = Agent(datapath: fake)
        _ = try agent.apply(policy: Self.policy(), host: FixtureWorld.host, options: Self.options)
        let second = try agent.apply(policy: Self.policy(), host: FixtureWorld.host, options: Self.options)
        #expect(second.adopted && second.generation == 2 && second.bank == 1 && second.previousGeneration == 1)
        let third = try agent.apply(policy: Self.policy(), host: FixtureWorld.host, options: Self.options)
        #expect(third.bank == 0)
        // The first apply fills both banks (neither is live), each later one the standby only.
        #expect(fake.journal.filter { $0.hasPrefix("clear") } == ["clear 0", "clear 1", "clear 1", "clear 0"])
        // Counters are reset only for slots given out for the first time.
        #expect(fake.journal.filter { $0.hasPrefix("reset") }.dropFirst().allSatisfy { $0 == "reset []" })
    }

    @Test func aFailedFillLeavesTheRunningGenerationAndRemovesOnlyNewHooks() throws {
        let fake = FakeDatapath()
        let agent = Agent(datapath: fake)
        _ = try agent.apply(policy: Self.policy(), host: FixtureWorld.host, options: Self.options)
        let before = (fake.state, fake.attached, fake.stored)
        fake.failWrite = true
        let policy = try Self.policy()
        #expect(throws: AgentError.self) {
            try agent.apply(policy: policy, host: FixtureWorld.host, options: Self.options)
        }
        #expect(fake.state == before.0 && fake.attached == before.1 && fake.stored == before.2)
    }

    @Test func anInvalidPolicyTouchesNothing() throws {
        let fake = FakeDatapath()
        var host = FixtureWorld.host
        host.interfaces.removeAll { $0.name == "sanb0" }
        do {
            _ = try Agent(datapath: fake).apply(policy: Self.policy(), host: host, options: Self.options)
            Issue.record("applied a policy naming a missing interface")
        } catch {
            guard case AgentError.policy = error else {
                Issue.record("wrong error: \(error)")
                return
            }
        }
        #expect(fake.journal.isEmpty)
    }

    @Test func ingressFallsBackFromDriverXDPToGenericToTC() throws {
        var xdp = Self.options
        xdp.ingressHook = .xdp
        let fake = FakeDatapath()
        fake.refuses = [.xdp]
        let report = try Agent(datapath: fake).apply(policy: Self.policy(), host: FixtureWorld.host, options: xdp)
        #expect(report.interfaces.first { $0.name == "sana0" }?.hooks == [.tcEgress, .xdpGeneric])
        let onlyTC = FakeDatapath()
        onlyTC.refuses = [.xdp, .xdpGeneric]
        let fallback = try Agent(datapath: onlyTC).apply(policy: Self.policy(), host: FixtureWorld.host, options: xdp)
        #expect(fallback.interfaces.first { $0.name == "sana0" }?.hooks == [.tcEgress, .tcIngress])
        // Each fallback is reported with the hooks that refused, in the order tried.
        let sana0 = report.ingressFallbacks.first { $0.interface == "sana0" }
        #expect(sana0?.hook == .xdpGeneric && sana0?.refused.map(\.hook) == [.xdp], "\(report.ingressFallbacks)")
        let toTC = fallback.ingressFallbacks.first { $0.interface == "sana0" }
        #expect(toTC?.hook == .tcIngress && toTC?.refused.map(\.hook) == [.xdp, .xdpGeneric], "\(fallback.ingressFallbacks)")
        #expect(toTC?.description.hasPrefix("sana0: ingress on tc-ingress; xdp refused: ") == true, "\(toTC?.description ?? "")")
        // An interface that got the first hook asked for has no entry.
        let whereXDPAttaches = try Agent(datapath: FakeDatapath()).apply(policy: Self.policy(), host: FixtureWorld.host, options: xdp)
        #expect(whereXDPAttaches.ingressFallbacks.isEmpty, "\(whereXDPAttaches.ingressFallbacks)")
        // The record keeps the refusals for `status`, through a re-apply that keeps the hook.
        let recorded = { (datapath: FakeDatapath) in try datapath.record()?.interfaces.first { $0.name == "sana0" }?.ingressRefused?.map(\.hook) }
        #expect(try recorded(onlyTC) == [.xdp, .xdpGeneric])
        #expect(try recorded(fake) == [.xdp])
        let again = try Agent(datapath: fake).apply(policy: Self.policy(), host: FixtureWorld.host, options: xdp)
        #expect(again.generation == 2 && again.ingressFallbacks.isEmpty, "kept, not attached again: \(again.ingressFallbacks)")
        #expect(try fake.record()?.interfaces.first { $0.name == "sana0" }?.hooks == [.tcEgress, .xdpGeneric])
        #expect(try recorded(fake) == [.xdp])
    }

    /// auto: tc ingress on a veth, XDP in driver mode on a plain NIC, and where the
    /// driver has no XDP of its own tc ingress, never generic XDP.
    @Test func autoIngressHookPicksByLinkType() throws {
        #expect(Self.options.ingressHook == .auto)
        var host = FixtureWorld.host
        for index in host.interfaces.indices where host.interfaces[index].name == "sana0" { host.interfaces[index].kind = "veth" }
        let fake = FakeDatapath()
        let agent = Agent(datapath: fake)
        let report = try agent.apply(policy: Self.policy(), host: host, options: Self.options)
        #expect(report.interfaces.first { $0.name == "sana0" }?.hooks == [.tcEgress, .tcIngress])
        #expect(report.interfaces.first { $0.name == "sana1" }?.hooks == [.tcEgress, .xdp])
        // Re-applied unchanged, both are kept: tc on the veth is the choice, not a fallback to retry.
        fake.journal = []
        _ = try agent.apply(policy: Self.policy(), host: host, options: Self.options)
        #expect(!fake.journal.contains { $0.hasPrefix("attach") }, "\(fake.journal)")
        let noNativeXDP = FakeDatapath()
        noNativeXDP.refuses = [.xdp]
        let fallback = try Agent(datapath: noNativeXDP).apply(policy: Self.policy(), host: FixtureWorld.host, options: Self.options)
        #expect(fallback.interfaces.first { $0.name == "sana1" }?.hooks == [.tcEgress, .tcIngress])
        #expect(!noNativeXDP.journal.contains { $0.contains("xdp-generic") }, "\(noNativeXDP.journal)")
    }

    @Test func ingressHookCandidatesAndWhatEachKeeps() {
        #expect(IngressHookPreference.auto.candidates(kind: "veth") == [.tcIngress])
        #expect(IngressHookPreference.auto.candidates(kind: nil) == [.xdp, .tcIngress])
        #expect(IngressHookPreference.auto.candidates(kind: "bridge") == [.xdp, .tcIngress])
        #expect(IngressHookPreference.xdp.candidates(kind: "veth") == [.xdp, .xdpGeneric, .tcIngress])
        #expect(IngressHookPreference.auto.keeps(.tcIngress, kind: "veth"))
        #expect(!IngressHookPreference.auto.keeps(.tcIngress, kind: nil))
        #expect(!IngressHookPreference.auto.keeps(.xdp, kind: "veth"))
        #expect(!IngressHookPreference.auto.keeps(.xdpGeneric, kind: nil))
        #expect(IngressHookPreference.xdp.keeps(.xdpGeneric, kind: nil))
        #expect(IngressHookPreference.tc.keeps(.tcIngress, kind: nil))
    }

    @Test func droppedInterfacesAreDetachedAfterTheFlipAndKeepTheirSlot() throws {
        let fake = FakeDatapath()
        let agent = Agent(datapath: fake)
        _ = try agent.apply(policy: Self.policy(), host: FixtureWorld.host, options: Self.options)
        let smaller = FixtureWorld.policyYAML.replacingOccurrences(of: "interfaces: [sana0, sana1]", with: "interfaces: [sana0]")
        fake.journal = []
        let report = try agent.apply(policy: Self.policy(smaller), host: FixtureWorld.host, options: Self.options)
        #expect(report.detached == ["sana1"])
        #expect(!fake.attached.contains { $0.hasSuffix("@4") })
        #expect(fake.journal.firstIndex { $0.hasPrefix("activate") }! < fake.journal.firstIndex { $0 == "detach tc-egress@4" }!)
        #expect(fake.stored?.counterSlots["sana1"] == 1)
        #expect(fake.stored?.interfaces.contains { $0.name == "sana1" } == false)
        // Back again: sana1 gets its old slot, so its counters continue.
        let again = try agent.apply(policy: Self.policy(), host: FixtureWorld.host, options: Self.options)
        #expect(again.interfaces.first { $0.name == "sana1" }?.counterSlot == 1)
    }

    @Test func statusStatsAndUnload() throws {
        let fake = FakeDatapath()
        let agent = Agent(datapath: fake)
        #expect(try agent.status(host: FixtureWorld.host.interfaces).installed == false)
        #expect(try agent.unload(interfaces: FixtureWorld.host.interfaces) == false)
        _ = try agent.apply(policy: Self.policy(), host: FixtureWorld.host, options: Self.options)
        let status = try agent.status(host: FixtureWorld.host.interfaces)
        #expect(status.generation == 1 && status.policy == "/etc/fabricguard/p.yaml")
        #expect(status.interfaces.allSatisfy { $0.missing.isEmpty })
        fake.attached.remove("xdp@3")
        #expect(try agent.status(host: FixtureWorld.host.interfaces).interfaces.first { $0.name == "sana0" }?.missing == [.xdp])
        let stats = try agent.stats()
        #expect(stats.counters == [CounterReport.Row(interface: "sana0", direction: .egress, reason: .foreignSource, action: .drop, packets: 3, bytes: 300)])
        #expect(try agent.unload(interfaces: FixtureWorld.host.interfaces) == true)
        #expect(fake.attached.isEmpty && !fake.installed)
        // The clsact qdiscs the applies created go with the last hook.
        #expect(fake.clsact.isEmpty && fake.journal.contains("remove clsact@3"), "\(fake.clsact)")
        #expect(try agent.unload(interfaces: FixtureWorld.host.interfaces) == false)
    }

    @Test func aNoOpReconcileWritesNothingAndAReCreatedInterfaceGetsOnlyItsOwnHooks() throws {
        let fake = FakeDatapath()
        let agent = Agent(datapath: fake)
        _ = try agent.apply(policy: Self.policy(), host: FixtureWorld.host, options: Self.options)
        var resync = Self.options
        resync.onlyIfChanged = true
        fake.journal = []
        let same = try agent.apply(policy: Self.policy(), host: FixtureWorld.host, options: resync)
        #expect(!same.changed && same.generation == 1)
        #expect(fake.journal.isEmpty, "an unchanged resync touched the kernel: \(fake.journal)")

        // sana0 re-created (a driver reload): same name, new ifindex 42.
        var host = FixtureWorld.host
        let index = try #require(host.interfaces.firstIndex { $0.name == "sana0" })
        host.interfaces[index].index = 42
        let changed = try agent.apply(policy: Self.policy(), host: host, options: resync)
        #expect(changed.changed && changed.generation == 2)
        let attaches = fake.journal.filter { $0.hasPrefix("attach") }
        #expect(attaches == ["attach tc-egress@42", "attach xdp@42"], "only the new interface is attached: \(attaches)")
        // The old ifindex loses its hooks after the flip.
        #expect(fake.journal.contains("detach tc-egress@3") && fake.journal.contains("detach xdp@3"))
        #expect(fake.stored?.interfaces.first { $0.name == "sana0" }?.ifindex == 42)
        // Counters continue in the same slot.
        #expect(changed.interfaces.first { $0.name == "sana0" }?.counterSlot == 0)
    }

    @Test func statusNamesEveryProblemAgainstTheLiveHost() throws {
        let fake = FakeDatapath()
        let agent = Agent(datapath: fake)
        _ = try agent.apply(policy: Self.policy(), host: FixtureWorld.host, options: Self.options)
        // sand0 is down in the fixture, but san-d does not redirect; san-b does and sanb0 is up.
        let healthy = try agent.status(host: FixtureWorld.host.interfaces)
        #expect(healthy.healthy && healthy.problems.isEmpty, "\(healthy.problems)")

        var host = FixtureWorld.host.interfaces
        host.removeAll { $0.name == "sana1" }
        host[host.firstIndex { $0.name == "sana0" }!].index = 42
        host[host.firstIndex { $0.name == "sanb0" }!].running = false
        fake.attached.remove("xdp@6")
        let degraded = try agent.status(host: host)
        #expect(!degraded.healthy)
        let found = Set(degraded.problems.map { "\($0.interface ?? "-") \($0.problem.rawValue)" })
        #expect(found == ["sana0 stale_ifindex", "sana1 interface_missing", "sanb0 redirect_target_down", "sanc0 hook_missing"], "\(degraded.problems)")
    }

    @Test func tcHooksAreTCXWhereTheKernelHasItInTheAskedOrderAndMoveWithoutAGap() throws {
        let fake = FakeDatapath()
        fake.tcxAvailable = true
        let agent = Agent(datapath: fake)
        _ = try agent.apply(policy: Self.policy(), host: FixtureWorld.host, options: Self.options)
        // tcx, first by default: no qdisc made, the mode and order recorded.
        #expect(fake.journal.contains("attach tc-egress@3 tcx first"), "\(fake.journal)")
        #expect(fake.clsact.isEmpty)
        let sana0 = try #require(fake.stored?.interfaces.first { $0.name == "sana0" })
        #expect(sana0.tcAttach == .tcx && sana0.tcOrder == .first)
        #expect(try agent.status(host: FixtureWorld.host.interfaces).interfaces.first { $0.name == "sana0" }?.hooks
            .first { $0.hook == .tcEgress }?.attach == .tcx)

        // Another order: the tc hooks are attached again (not kept), in the new place.
        var last = Self.options
        last.tcOrder = .last
        fake.journal = []
        _ = try agent.apply(policy: Self.policy(), host: FixtureWorld.host, options: last)
        #expect(fake.journal.contains("attach tc-egress@3 tcx last"), "\(fake.journal)")
        #expect(fake.stored?.interfaces.first { $0.name == "sana0" }?.tcOrder == .last)
        // No order asked: the running one stays, and so do the hooks.
        fake.journal = []
        _ = try agent.apply(policy: Self.policy(), host: FixtureWorld.host, options: Self.options)
        #expect(!fake.journal.contains { $0.hasPrefix("attach") }, "\(fake.journal)")
        #expect(fake.stored?.interfaces.first { $0.name == "sana0" }?.tcOrder == .last)

        // To clsact: the filter first, then the tcx link goes; and back.
        var clsact = Self.options
        clsact.tcAttach = .clsact
        fake.journal = []
        _ = try agent.apply(policy: Self.policy(), host: FixtureWorld.host, options: clsact)
        let filter = try #require(fake.journal.firstIndex(of: "attach tc-egress@3"))
        let unlinked = try #require(fake.journal.firstIndex(of: "detach tc-egress@3 tcx"), "\(fake.journal)")
        #expect(filter < unlinked)
        #expect(fake.stored?.interfaces.first { $0.name == "sana0" }?.tcAttach == .clsact)
        #expect(fake.clsact.contains(3))
        fake.journal = []
        _ = try agent.apply(policy: Self.policy(), host: FixtureWorld.host, options: Self.options)
        #expect(fake.journal.contains("detach tc-egress@3 clsact"), "\(fake.journal)")
        // The qdisc that clsact mode made goes at unload, tcx or not.
        #expect(try agent.unload(interfaces: FixtureWorld.host.interfaces))
        #expect(fake.clsact.isEmpty)

        // --tc-attach tcx where the kernel has none: refused, nothing attached.
        let old = FakeDatapath()
        var tcx = Self.options
        tcx.tcAttach = .tcx
        #expect(throws: AgentError.self) { try Agent(datapath: old).apply(policy: Self.policy(), host: FixtureWorld.host, options: tcx) }
        #expect(old.attached.isEmpty)
    }

    @Test func statusCallsAFirstApplyThatDiedHalfWayDegraded() throws {
        let fake = FakeDatapath()
        fake.installed = true
        let status = try Agent(datapath: fake).status(host: FixtureWorld.host.interfaces)
        #expect(status.installed && !status.healthy)
        #expect(status.problems.map(\.problem) == [.partialApply])
    }
}
