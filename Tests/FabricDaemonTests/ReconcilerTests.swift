import FabricAgent
import FabricCompiler
import FabricDaemon
import FabricFixtures
import FabricHost
import FabricPolicy
import Foundation
import Logging
import Testing

/// The reconcile step over a datapath that records instead of touching a
/// kernel: what changes cost a swap, what a bad reload leaves running.
@Suite("Reconciler")
struct ReconcilerTests {
    final class Recorder: Datapath {
        var state: GenerationState?
        var stored: AgentRecord?
        var attached: Set<String> = []
        var activations = 0
        func isInstalled() throws -> Bool { state != nil }
        func loadPrograms() throws {}
        func prepare() throws {}
        func prepareMapsOnly() throws {}
        var programIdentity: String { "test" }
        func generation() throws -> GenerationState? { state }
        func record() throws -> AgentRecord? { stored }
        func clearBank(_ bank: UInt32) throws {}
        func write(_ entries: [MapEntry], bank: UInt32) throws {}
        func activate(_ state: GenerationState) throws {
            self.state = state
            activations += 1
        }
        func writeRecord(_ record: AgentRecord) throws { stored = record }
        var tcxAvailable: Bool { true }
        func attach(_ hook: Hook, ifindex: UInt32, tc: TCPlacement) throws -> Bool {
            attached.insert("\(hook.rawValue)@\(ifindex)")
            return false
        }
        func removeClsactIfUnused(ifindex: UInt32) throws -> Bool { false }
        func detach(_ hook: Hook, ifindex: UInt32, only: HookAttachment?) throws { attached.remove("\(hook.rawValue)@\(ifindex)") }
        func hooks(ifindex: UInt32) throws -> [HookState] {
            Hook.allCases.filter { attached.contains("\($0.rawValue)@\(ifindex)") }.map {
                HookState(hook: $0, programID: 1, attach: $0.isTC ? .tcx : .link)
            }
        }
        func eventTallies() throws -> [EventKey: EventTally] { [:] }
    func counters() throws -> [CounterKey: CounterValue] { [:] }
        func resetCounters(slots: Set<UInt32>) throws {}
        func removePins() throws {}
    }

    static func reconciler(policyFile: String) throws -> (Reconciler, Recorder) {
        let recorder = Recorder()
        let configuration = DaemonConfiguration(
            policyPath: policyFile, pinDirectory: "/sys/fs/bpf/test", runtime: RuntimeDirectory(pinDirectory: "/sys/fs/bpf/test"))
        let reconciler = Reconciler(
            configuration: configuration, agent: Agent(datapath: recorder), policy: try PolicyLoader.load(path: policyFile),
            logger: Logger(label: "test"), clock: { "2026-12-04T00:00:00Z" })
        return (reconciler, recorder)
    }

    static func policyFile(_ text: String = FixtureWorld.policyYAML) throws -> String {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("fg-reconciler-\(UUID().uuidString).yaml").path
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    @Test func onlyChangesThatTouchThePolicyCostASwap() throws {
        let file = try Self.policyFile()
        defer { try? FileManager.default.removeItem(atPath: file) }
        let (reconciler, recorder) = try Self.reconciler(policyFile: file)
        try reconciler.reconcile(host: FixtureWorld.host, first: true)
        #expect(recorder.activations == 1)
        // An unrelated interface appears, twice the same snapshot: no swap.
        var host = FixtureWorld.host
        host.interfaces.append(HostInterface(name: "veth123", index: 99, up: true, running: true, addresses: []))
        try reconciler.reconcile(host: host)
        try reconciler.reconcile(host: host)
        #expect(recorder.activations == 1 && reconciler.counters.swaps == 1)
        // The redirect target sanb0 loses carrier: the plan changes (no usable target), one swap.
        let b = try #require(host.interfaces.firstIndex { $0.name == "sanb0" })
        host.interfaces[b].running = false
        try reconciler.reconcile(host: host)
        #expect(recorder.activations == 2)
        #expect(reconciler.statusLine.hasPrefix("generation 2, sha256:"))
    }

    @Test func aBrokenReloadIsRefusedAndTheRunningPolicyStays() throws {
        let file = try Self.policyFile()
        defer { try? FileManager.default.removeItem(atPath: file) }
        let (reconciler, recorder) = try Self.reconciler(policyFile: file)
        try reconciler.reconcile(host: FixtureWorld.host, first: true)
        let digest = recorder.stored?.digest
        try "version: 1\nfabrics: [ {name: x, interfaces: [sana0], prefixes: [10.1.0.0/33]} ]\n".write(toFile: file, atomically: true, encoding: .utf8)
        #expect(!reconciler.reload())
        try reconciler.reconcile(host: FixtureWorld.host)
        #expect(recorder.stored?.digest == digest && recorder.activations == 1)
        #expect(reconciler.counters.reloadsFailed == 1 && reconciler.counters.reloadsSucceeded == 0)

        let smaller = FixtureWorld.policyYAML.replacingOccurrences(of: "interfaces: [sana0, sana1]", with: "interfaces: [sana0]")
        try smaller.write(toFile: file, atomically: true, encoding: .utf8)
        #expect(reconciler.reload())
        try reconciler.reconcile(host: FixtureWorld.host)
        #expect(recorder.stored?.digest != digest && recorder.activations == 2)
        #expect(!recorder.attached.contains { $0.hasSuffix("@4") }, "sana1 left the policy and keeps hooks")
    }
}
