import FabricABI
import FabricBPF
@testable import FabricDaemon
import FabricEvents
import FabricSystem
import Foundation
import Logging
import Testing

/// A kernel that says what the test sets.
final class FakeSampler: KernelSampler {
    let current = Locked(KernelSample())

    func sample() throws -> KernelSample { current.withLock { $0 } }

    func set(_ change: (inout KernelSample) -> Void) { current.withLock { change(&$0) } }
}

@Suite("Daemon metrics")
struct DaemonMetricsTests {
    static func cell(_ packets: UInt64) -> KernelSample.Cell {
        .init(interface: "ens1f0", fabric: "san-a", direction: .egress, reason: .foreignSource, action: .drop, packets: packets, bytes: packets * 100)
    }

    func scrape(_ metrics: DaemonMetrics) -> [String] {
        String(decoding: metrics.scrape(), as: UTF8.self).split(separator: "\n").map(String.init).filter { !$0.hasPrefix("#") }
    }

    static let drops = #"fabricguard_packets_total{interface="ens1f0",fabric="san-a",direction="egress",reason="foreign_source",action="drop"}"#

    /// The kernel's counters are read when Prometheus asks, and a counter only goes
    /// up, from zero again when the kernel's went down (its maps were re-created).
    @Test func kernelCountersAreReadAtScrapeTime() {
        let sampler = FakeSampler()
        let metrics = DaemonMetrics(sampler: sampler, version: "9.9.9")
        sampler.set {
            $0.cells = [Self.cell(5)]
            $0.events = [.init(interface: "ens1f0", reason: .foreignSource, sent: 3, suppressed: 2)]
            $0.hooks = [.init(interface: "ens1f0", hook: "tc-egress", attached: true), .init(interface: "ens1f1", hook: "xdp", attached: false)]
            $0.generation = 4
            $0.digest = "sha256:aa"
            $0.policy = "/etc/fabricguard/fabrics.yaml"
        }
        var lines = scrape(metrics)
        #expect(lines.contains("\(Self.drops) 5"), "\(lines)")
        #expect(lines.contains(#"fabricguard_events_total{interface="ens1f0",reason="foreign_source"} 3"#))
        #expect(lines.contains(#"fabricguard_events_suppressed_total{interface="ens1f0",reason="foreign_source"} 2"#))
        #expect(lines.contains(#"fabricguard_hook_attached{interface="ens1f1",hook="xdp"} 0.0"#))
        #expect(lines.contains("fabricguard_policy_generation 4.0") && lines.contains(#"fabricguard_build_info{version="9.9.9"} 1.0"#))
        #expect(lines.contains(#"fabricguard_policy_info{digest="sha256:aa",path="/etc/fabricguard/fabrics.yaml"} 1.0"#))

        sampler.set {
            $0.cells = [Self.cell(9)]
            $0.digest = "sha256:bb"
        }
        lines = scrape(metrics)
        #expect(lines.contains("\(Self.drops) 9"))
        // One policy_info series: the running policy's.
        #expect(lines.filter { $0.hasPrefix("fabricguard_policy_info") } == [
            #"fabricguard_policy_info{digest="sha256:bb",path="/etc/fabricguard/fabrics.yaml"} 1.0"#,
        ])
        sampler.set { $0.cells = [Self.cell(2)] }
        #expect(scrape(metrics).contains("\(Self.drops) 2"))
    }

    @Test func theDaemonsOwnCountsAreExported() {
        let metrics = DaemonMetrics(sampler: FakeSampler(), version: "1")
        var lines = scrape(metrics)
        // Present before anything happened, so that rate() sees the first change.
        #expect(lines.contains(#"fabricguard_policy_reloads_total{result="error"} 0"#))
        #expect(lines.contains(#"fabricguard_host_changes_total{kind="link"} 0"#))
        metrics.recordReload(success: false)
        metrics.recordHostChange("address")
        metrics.recordHostChange("address")
        metrics.recordEnforceLatency(.milliseconds(3))
        lines = scrape(metrics)
        #expect(lines.contains(#"fabricguard_policy_reloads_total{result="error"} 1"#))
        #expect(lines.contains(#"fabricguard_host_changes_total{kind="address"} 2"#))
        #expect(lines.contains(#"fabricguard_enforce_latency_seconds_bucket{le="0.002"} 0"#))
        #expect(lines.contains(#"fabricguard_enforce_latency_seconds_bucket{le="0.005"} 1"#))
        #expect(lines.contains("fabricguard_enforce_latency_seconds_count 1"))
    }

    @Test func aKernelThatCannotBeReadIsSaidNotHidden() {
        struct Broken: KernelSampler {
            func sample() throws -> KernelSample { throw CancellationError() }
        }
        #expect(scrape(DaemonMetrics(sampler: Broken(), version: "1")).contains("fabricguard_kernel_read_ok 0.0"))
    }
}

/// A ring that hands out the events the test queued.
final class QueuedSource: RawEventSource, @unchecked Sendable {
    private let queue = Locked<[[RawEvent]]>([])

    func push(_ batch: [RawEvent]) { queue.withLock { $0.append(batch) } }

    func poll(timeoutMilliseconds: Int32) throws -> [RawEvent] {
        if let batch = queue.withLock({ $0.isEmpty ? nil : $0.removeFirst() }) { return batch }
        usleep(UInt32(min(timeoutMilliseconds, 5)) * 1000)
        return []
    }
}

/// A subscriber that keeps what it is offered, or refuses everything (a stopped reader).
final class Collecting: EventSubscriber {
    let accepts: Bool
    let received = Locked<[UInt8]>([])

    init(accepts: Bool) { self.accepts = accepts }

    func offer(_ lines: [UInt8]) -> Bool {
        guard accepts else { return false }
        received.withLock { $0 += lines }
        return true
    }

    var events: [ViolationEvent] {
        received.withLock { bytes in
            bytes.split(separator: UInt8(ascii: "\n")).compactMap { try? ViolationEvent.decoder.decode(ViolationEvent.self, from: Data($0)) }
        }
    }
}

@Suite("Event fan-out")
struct EventHubTests {
    static func raw(_ sequence: UInt64, generation: UInt64 = 1) -> RawEvent {
        RawEvent(
            timestampNanoseconds: sequence, generation: generation, ifindex: 3, direction: Direction.egress.code,
            reason: Reason.foreignSource.rawValue, action: Action.drop.rawValue, frameLength: 60, head: [])
    }

    @Test func everySubscriberGetsEveryEventAndASlowOneOnlyLosesItsOwn() throws {
        let describers = Locked(0)
        let hub = EventHub(logger: Logger(label: "test")) {
            describers.withLock { $0 += 1 }
            return EventDescriber(record: nil, host: [], policy: nil)
        }
        let fast = Collecting(accepts: true), other = Collecting(accepts: true), stopped = Collecting(accepts: false)
        for subscriber in [fast, other, stopped] { hub.subscribe(subscriber) }
        let source = QueuedSource()
        hub.start(source: source)
        defer { hub.stop() }
        source.push((0..<5).map { Self.raw($0) })
        source.push((5..<8).map { Self.raw($0, generation: 2) })
        let deadline = Date().addingTimeInterval(10)
        // Counted once offered to every subscriber: 8 events x 3 subscribers.
        while hub.counts.delivered + hub.counts.dropped < 24, Date() < deadline { usleep(1000) }
        #expect(hub.counts == .init(received: 8, delivered: 16, dropped: 8, subscribers: 3))
        #expect(fast.events.count == 8 && other.events.count == 8 && stopped.events.isEmpty)
        #expect(fast.events.map(\.generation) == [1, 1, 1, 1, 1, 2, 2, 2])
        // Names are looked up once at start and once per new generation, not per event.
        #expect(describers.withLock { $0 } == 3)
        hub.unsubscribe(other)
        source.push([Self.raw(9, generation: 2)])
        while hub.counts.delivered + hub.counts.dropped < 26, Date() < deadline { usleep(1000) }
        #expect(other.events.count == 8 && fast.events.count == 9)
    }
}
