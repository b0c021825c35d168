// The fuzz harnesses: one function per kind of untrusted bytes fabricguard reads.
// Each takes any bytes at all and must neither crash nor hang; where it is cheap
// it also asserts an invariant (a violated one is a crash, which is what the
// fuzzer reports). The fuzz-* executables (Sources/fuzz-*/main.swift) hand
// libFuzzer's input to these; the pure tier runs every seed of Fuzz/corpus
// through them (Tests/FabricFuzzTests), so they are exercised without a fuzzer build.

import FabricABI
import FabricCapture
import FabricCompiler
import FabricFixtures
import FabricHost
import FabricPolicy
import FabricReference
import Foundation

public enum FuzzHarness {
    /// The fixture world, compiled once.
    struct World: Sendable {
        let policy: Policy
        let plan: MapPlan
        let datapath: ReferenceDatapath
        let names: [UInt32: String]
        /// A handful of fixture frames, for judging through a fuzzed policy or host.
        let probes: [FuzzFrame]
    }

    static let world: World = {
        let policy = FixtureWorld.policy()
        let plan: MapPlan
        do {
            plan = try PolicyCompiler.compile(policy, host: FixtureWorld.host).plan
        } catch {
            fatalError("the fixture world must compile: \(error)")
        }
        let names = Dictionary(uniqueKeysWithValues: FixtureWorld.host.interfaces.map { ($0.index, $0.name) })
        let probes = Fixtures.all.enumerated().filter { $0.offset % 6 == 0 }.map {
            FuzzFrame(interface: $0.element.interface, direction: $0.element.direction, frame: $0.element.frame)
        }
        return World(policy: policy, plan: plan, datapath: ReferenceDatapath(plan: plan), names: names, probes: probes)
    }()

    /// Invariants of any decision under `plan`: a redirect goes to an interface the
    /// plan manages, and only a redirect (or an audited would-be redirect) names one.
    static func check(_ decision: Decision, plan: MapPlan, _ what: @autoclosure () -> String) {
        if decision.redirectIfindex != 0 {
            guard plan.interface(index: decision.redirectIfindex) != nil else {
                fatalError("\(what()): \(decision) redirects to ifindex \(decision.redirectIfindex), which the plan does not manage")
            }
        }
        if decision.action == .redirect, decision.redirectIfindex == 0 {
            fatalError("\(what()): \(decision) redirects nowhere")
        }
    }

    // MARK: frame

    /// Byte 0 says where the frame is seen (see FuzzFrame), the rest is the frame:
    /// the reference decision, the frame summary and the explanation.
    public static func frame(_ data: UnsafeRawBufferPointer) {
        guard let input = FuzzFrame(data) else { return }
        let world = world
        let ifindex = FixtureWorld.ifindex(input.interface)
        let decision = world.datapath.decide(frame: input.frame, ifindex: ifindex, direction: input.direction)
        check(decision, plan: world.plan, "frame on \(input.interface) \(input.direction)")
        let summary = FrameSummary(input.frame)
        if let source = summary.source {
            let explanation = world.datapath.explain(
                frame: input.frame, interface: input.interface, ifindex: ifindex, direction: input.direction,
                source: source, destination: summary.destination, names: { world.names[$0] })
            guard explanation.reason == decision.reason, explanation.action == decision.action else {
                fatalError("explanation \(explanation.reason)/\(explanation.action) differs from the decision \(decision)")
            }
        }
    }

    // MARK: policy

    /// YAML bytes -> Policy or diagnostics; a policy that loads is compiled against
    /// the fixture host (compiles, or says why) and judges a few fixture frames.
    public static func policy(_ data: UnsafeRawBufferPointer) {
        let text = String(decoding: data, as: UTF8.self)
        let policy: Policy
        do {
            policy = try PolicyLoader.parse(yaml: text, file: "fuzz.yaml")
        } catch {
            guard !error.diagnostics.isEmpty else { fatalError("the policy was refused without a diagnostic") }
            return
        }
        judge(policy: policy, host: FixtureWorld.host, "fuzzed policy")
    }

    // MARK: host

    /// JSON bytes -> HostInventory or diagnostics; a host that loads gets the fixture
    /// policy compiled against it (missing interfaces allowed) and a few frames judged.
    public static func host(_ data: UnsafeRawBufferPointer) {
        let host: HostInventory
        do {
            host = try HostInventory(json: Data(data), file: "fuzz.json")
        } catch {
            if case .invalid(_, let diagnostics) = error, diagnostics.isEmpty {
                fatalError("the host file was refused without a diagnostic")
            }
            return
        }
        judge(policy: world.policy, host: host, "fuzzed host")
    }

    /// Compiles `policy` for `host` and judges the probe frames on the host's interfaces.
    static func judge(policy: Policy, host: HostInventory, _ what: String) {
        let plan: MapPlan
        do {
            plan = try PolicyCompiler.compile(policy, host: host, options: CompileOptions(allowMissing: true)).plan
        } catch {
            guard !error.diagnostics.isEmpty else { fatalError("\(what): compilation failed without a diagnostic") }
            return
        }
        let datapath = ReferenceDatapath(plan: plan)
        let indexes = host.interfaces.prefix(16).map(\.index) + [0, 4242]
        for (number, probe) in world.probes.enumerated() {
            let ifindex = indexes[number % indexes.count]
            check(datapath.decide(frame: probe.frame, ifindex: ifindex, direction: probe.direction), plan: plan, what)
        }
    }

    // MARK: capture

    /// Capture bytes (pcap, pcapng) -> CaptureReader through fmemopen -> every frame
    /// judged by the dry run over the fixture world.
    public static func capture(_ data: UnsafeRawBufferPointer) {
        guard !data.isEmpty else { return }
        // fmemopen wants a buffer of its own that outlives the stream.
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: data.count, alignment: 1)
        defer { buffer.deallocate() }
        buffer.copyMemory(from: data)
        guard let file = fmemopen(buffer.baseAddress, data.count, "r") else { return }
        readCapture(file)
    }

    /// Kept apart so that the reader is gone before the buffer is freed.
    static func readCapture(_ file: UnsafeMutablePointer<FILE>) {
        let reader: CaptureReader
        do {
            reader = try CaptureReader(file: file, name: "fuzz.pcap")
        } catch {
            return
        }
        let world = world
        var dryRun = DryRun(datapath: world.datapath, interfaceNames: world.names)
        var frames = 0
        while frames < 100_000 {
            let more: Bool
            do {
                more = try reader.withNextFrame { header, bytes in
                    let ifindex = header.interfaceIndex ?? FixtureWorld.ifindex("sana0")
                    let direction = header.direction ?? .egress
                    check(world.datapath.decide(frame: bytes, ifindex: ifindex, direction: direction), plan: world.plan, "capture frame")
                    dryRun.judge(
                        frame: bytes, wireLength: header.wireLength, ifindex: ifindex, direction: direction,
                        time: DryRun.Timestamp(seconds: header.seconds, microseconds: header.microseconds))
                }
            } catch {
                break
            }
            guard more else { break }
            frames += 1
        }
        _ = dryRun.report(capture: "fuzz.pcap", linkType: reader.linkType.name, top: 5)
    }
}
