import FabricABI
import FabricSystem
import Prometheus

/// What a scrape reads from the kernel, at scrape time (sums over CPUs).
public struct KernelSample: Sendable, Equatable {
    public struct Cell: Sendable, Equatable {
        public var interface: String
        public var fabric: String
        public var direction: Direction
        public var reason: Reason
        public var action: Action
        public var packets: UInt64
        public var bytes: UInt64
    }

    public struct Events: Sendable, Equatable {
        public var interface: String
        public var reason: Reason
        public var sent: UInt64
        /// Refused by the rate limit, or allowed but the ring was full.
        public var suppressed: UInt64
    }

    public struct HookState: Sendable, Equatable {
        public var interface: String
        public var hook: String
        public var attached: Bool
    }

    public var cells: [Cell] = []
    public var events: [Events] = []
    public var hooks: [HookState] = []
    public var generation: UInt64?
    public var digest: String?
    public var policy: String?

    public init() {}
}

/// Reads a `KernelSample`; the daemon's reads the pinned maps and the hooks.
public protocol KernelSampler: Sendable {
    func sample() throws -> KernelSample
}

/// The Prometheus registry of one daemon (docs/cli.md, "Metrics"), swift-prometheus's
/// (the swift-metrics backend) used directly so that every family carries its
/// HELP text (`promtool check metrics` asks for it). The daemon's own counts
/// (reloads, host changes, enforce latency) are recorded as they happen; the
/// kernel's counters are read when Prometheus scrapes and written into the
/// registry then, never copied on a timer.
public final class DaemonMetrics: Sendable {
    public let registry = PrometheusCollectorRegistry()
    private let latency: DurationHistogram
    private let sampler: any KernelSampler
    private let version: String
    private let state = Locked(ScrapeState())

    /// The enforce latency's buckets: a host change is enforced in milliseconds.
    static let latencyBuckets: [Duration] = [1, 2, 5, 10, 25, 50, 100, 250, 500, 1000, 2500].map { .milliseconds($0) }

    public init(sampler: any KernelSampler, version: String) {
        self.sampler = sampler
        self.version = version
        latency = registry.makeDurationHistogram(
            descriptor: Self.descriptor("enforce_latency", "seconds", "from a netlink event to the kernel enforcing the change"),
            buckets: Self.latencyBuckets)
        registry.makeGauge(descriptor: Self.descriptor("build", "info", "fabricguard's version (always 1)"), labels: [("version", version)]).set(to: 1.0)
        // Present from the start, so that rate() and increase() see the first change.
        for result in ["success", "error"] { _ = reloads(result) }
        for kind in ["link", "address", "resync"] { _ = hostChanges(kind) }
    }

    // MARK: The daemon's own counts

    func reloads(_ result: String) -> Counter {
        registry.makeCounter(
            descriptor: Self.descriptor("policy_reloads", "total", "policy reloads (SIGHUP) by result: success, error"),
            labels: [("result", result)])
    }

    func hostChanges(_ kind: String) -> Counter {
        registry.makeCounter(
            descriptor: Self.descriptor("host_changes", "total", "host signals the daemon followed, by kind: link, address, resync"),
            labels: [("kind", kind)])
    }

    func recordReload(success: Bool) { reloads(success ? "success" : "error").increment() }

    /// One host signal of `kind` (`link`, `address`, `overflow`) or a full `resync`.
    func recordHostChange(_ kind: String) { hostChanges(kind).increment() }

    /// Netlink event -> the kernel enforcing the new state.
    func recordEnforceLatency(_ latency: Duration) {
        self.latency.record(latency)
    }

    /// The events socket's fan-out: lines a slow client could not take, and clients now.
    func recordEventClients(_ counts: EventHub.Counts) {
        state.withLock { state in
            let dropped = registry.makeCounter(descriptor: Self.descriptor(
                "event_client_drops", "total", "events not delivered to an events client that read too slowly"))
            Self.advance(dropped, from: state.clientDrops, to: counts.dropped)
            state.clientDrops = counts.dropped
            registry.makeGauge(descriptor: Self.descriptor("event_clients", "", "events clients connected")).set(to: Double(counts.subscribers))
        }
    }

    // MARK: Scrape

    private struct ScrapeState {
        /// What the client-drops counter was last moved to (a counter only goes up by the difference).
        var clientDrops: UInt64 = 0
        var policyInfo: Gauge?
        /// The registry's series of each kernel cell, made once: making one
        /// (label checks, a locked lookup) per cell per scrape was most of a
        /// scrape's time at 64 interfaces.
        var cells: [CellKey: CellSeries] = [:]
        var events: [EventKey: CellSeries] = [:]
    }

    private struct CellKey: Hashable {
        var interface: String
        var fabric: String
        var direction: Direction
        var reason: Reason
        var action: Action
    }

    private struct EventKey: Hashable {
        var interface: String
        var reason: Reason
    }

    /// Two counters of one kernel cell and the values they were last moved to.
    private final class CellSeries {
        let first: Counter
        let second: Counter
        var values: (UInt64, UInt64) = (0, 0)

        init(_ first: Counter, _ second: Counter) {
            self.first = first
            self.second = second
        }

        func advance(to first: UInt64, _ second: UInt64) {
            DaemonMetrics.advance(self.first, from: values.0, to: first)
            DaemonMetrics.advance(self.second, from: values.1, to: second)
            values = (first, second)
        }
    }

    /// The exposition: reads the kernel, updates the registry, emits the text format.
    public func scrape(hub: EventHub? = nil) -> [UInt8] {
        let sample: KernelSample?
        do {
            sample = try sampler.sample()
        } catch {
            sample = nil
        }
        if let hub { recordEventClients(hub.counts) }
        state.withLock { state in
            registry.makeGauge(descriptor: Self.descriptor("kernel_read_ok", "", "1 when the last scrape read the kernel's maps"))
                .set(to: sample == nil ? 0.0 : 1.0)
            if let sample { update(&state, with: sample) }
        }
        return registry.emitToBuffer()
    }

    private func update(_ state: inout ScrapeState, with sample: KernelSample) {
        let packets = Self.descriptor("packets", "total", "frames judged, by interface, fabric, direction, reason and action")
        let bytes = Self.descriptor("bytes", "total", "bytes of the frames judged, by the same labels as fabricguard_packets_total")
        for cell in sample.cells {
            let key = CellKey(interface: cell.interface, fabric: cell.fabric, direction: cell.direction, reason: cell.reason, action: cell.action)
            let series = state.cells[key] ?? {
                let labels = [
                    ("interface", cell.interface), ("fabric", cell.fabric), ("direction", cell.direction.rawValue),
                    ("reason", cell.reason.name), ("action", cell.action.name),
                ]
                let made = CellSeries(
                    registry.makeCounter(descriptor: packets, labels: labels), registry.makeCounter(descriptor: bytes, labels: labels))
                state.cells[key] = made
                return made
            }()
            series.advance(to: cell.packets, cell.bytes)
        }
        let sent = Self.descriptor("events", "total", "violation events sent to the ring, by interface and reason")
        let suppressed = Self.descriptor(
            "events_suppressed", "total", "violations not sent as events (rate limit, events off, or the ring full), by interface and reason")
        for events in sample.events {
            let key = EventKey(interface: events.interface, reason: events.reason)
            let series = state.events[key] ?? {
                let labels = [("interface", events.interface), ("reason", events.reason.name)]
                let made = CellSeries(registry.makeCounter(descriptor: sent, labels: labels), registry.makeCounter(descriptor: suppressed, labels: labels))
                state.events[key] = made
                return made
            }()
            series.advance(to: events.sent, events.suppressed)
        }
        let attached = Self.descriptor("hook_attached", "", "1 when the hook the policy asks for is attached to the interface")
        for hook in sample.hooks {
            registry.makeGauge(descriptor: attached, labels: [("interface", hook.interface), ("hook", hook.hook)]).set(to: hook.attached ? 1.0 : 0.0)
        }
        if let generation = sample.generation {
            registry.makeGauge(descriptor: Self.descriptor("policy_generation", "", "the policy generation the programs read"))
                .set(to: Double(generation))
        }
        if let digest = sample.digest, let policy = sample.policy {
            let info = registry.makeGauge(
                descriptor: Self.descriptor("policy_info", "", "the running policy: its digest and file (always 1)"),
                labels: [("digest", digest), ("path", policy)])
            if let previous = state.policyInfo, previous !== info { registry.unregisterGauge(previous) }
            info.set(to: 1.0)
            state.policyInfo = info
        }
    }

    /// Moves a counter to the kernel's value: up by the difference, or from zero
    /// when the kernel's went down (its maps were re-created).
    static func advance(_ counter: Counter, from previous: UInt64, to value: UInt64) {
        if value < previous {
            counter.reset()
            counter.increment(by: Int64(clamping: value))
        } else if value > previous {
            counter.increment(by: Int64(clamping: value - previous))
        }
    }

    static func descriptor(_ name: String, _ unit: String, _ help: String) -> MetricNameDescriptor {
        MetricNameDescriptor(namespace: "fabricguard", metricName: name, unitName: unit, helpText: help)
    }
}
