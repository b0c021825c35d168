import FabricAgent
import FabricEvents
import FabricHost
import FabricNetlink
import FabricPolicy
import FabricSystem
import Logging
import NIOCore
import NIOPosix
import ServiceLifecycle
import UnixSignals

#if canImport(Glibc)
import Glibc
#endif

/// `fabricguard run`: the long-running owner of one pin directory. It applies
/// the policy exactly as `apply` does, then keeps the kernel equal to
/// (policy, live host) until SIGTERM/SIGINT: host signals, SIGHUP and a
/// periodic resync all feed one reconcile loop (level-triggered: every step
/// recomputes the plan from a fresh snapshot and changes only what differs).
public final class Daemon: Sendable {
    public let configuration: DaemonConfiguration
    private let host: any HostWatch
    private let logger: Logger
    private let notifier: Notifier
    private let makeAgent: @Sendable () -> Agent
    private let timestamp: @Sendable () -> String
    private let observability: Observability

    /// `makeAgent` builds the agent over the datapath of `configuration.pinDirectory`;
    /// `timestamp` gives the ISO 8601 time recorded with each apply.
    public init(
        configuration: DaemonConfiguration, host: any HostWatch, logger: Logger, notifier: Notifier = Notifier(),
        observability: Observability = Observability(),
        makeAgent: @escaping @Sendable () -> Agent, timestamp: @escaping @Sendable () -> String
    ) {
        self.observability = observability
        self.configuration = configuration
        self.host = host
        self.logger = logger
        self.notifier = notifier
        self.makeAgent = makeAgent
        self.timestamp = timestamp
    }

    /// How often the first apply is tried before the daemon gives up.
    static let startAttempts = 5

    /// Why the daemon could not start: a policy error (exit 2) or anything else (exit 1).
    public enum StartError: Error, CustomStringConvertible {
        case policy(PolicyError)
        /// The lockout guard refused the policy (exit 2, as a policy error).
        case refused(String)
        case runtime(String)

        public var description: String {
            switch self {
            case .policy(let error): error.description
            case .refused(let message), .runtime(let message): message
            }
        }
    }

    /// Runs until SIGTERM or SIGINT, then leaves enforcement in place (or
    /// unloads, with `unloadOnExit`). Throws only when it cannot start.
    public func run() async throws(StartError) {
        let pinDirectory = configuration.pinDirectory
        let existed = access(pinDirectory, F_OK) == 0
        var enforced = false
        let lock: DirectoryLock
        do {
            if let notice = try PinOwnership.makePinDirectory(pinDirectory) { logger.notice("\(notice)") }
            lock = try PinOwnership.lockForDaemon(pinDirectory: pinDirectory)
            try PinOwnership.writeDaemonPID(configuration.runtime)
        } catch {
            throw .runtime("\(error)")
        }
        defer {
            PinOwnership.removeDaemonPID(configuration.runtime)
            // A daemon that never enforced leaves no pin directory it made (rmdir: only an empty one).
            if !existed && !enforced { rmdir(pinDirectory) }
            lock.release()
        }
        // Trapped before anything can send them: until a dispatch source exists,
        // a signal takes its default action and kills the daemon half-way
        // through its first apply. What arrives early waits in the sequence.
        let signals = await UnixSignalsSequence(trapping: .sigterm, .sigint, .sighup)

        let policy: Policy
        do {
            policy = try PolicyLoader.load(path: configuration.policyPath)
        } catch {
            throw .policy(error)
        }
        // What the daemon serves is bound before it enforces anything: a port in
        // use fails the start, not a daemon that already changed the kernel.
        let served: Served
        do {
            served = try Served(configuration: configuration, observability: observability, logger: logger)
        } catch {
            throw .runtime("\(error)")
        }
        let agent = makeAgent()
        let reconciler = Reconciler(
            configuration: configuration, agent: agent, policy: policy, logger: logger, clock: timestamp)
        let changes: AsyncStream<HostChange>
        var warnings: [String] = []
        do {
            // Subscribe first, then take the snapshot: nothing in between is missed.
            changes = try host.start()
        } catch {
            throw .runtime("run: subscribe to host changes: \(error)")
        }
        // The host can change under the first apply (a NIC renamed or re-created
        // while the system boots): a kernel failure is retried on a fresh
        // snapshot a few times before the daemon gives up; a policy error is final.
        var attempt = 0
        while true {
            attempt += 1
            do {
                let report = try reconciler.reconcile(host: host.inventory(), first: true)
                logger.info("enforcing", metadata: Self.metadata(report, cause: "start"))
                warnings = report.warnings.map(\.description)
                for warning in warnings { logger.warning("\(warning)") }
                enforced = true
                break
            } catch {
                if case .policy(let policyError) = error as? AgentError {
                    host.stop()
                    served.close()
                    throw .policy(policyError)
                }
                if case .refused(let message) = error as? AgentError {
                    host.stop()
                    served.close()
                    throw .refused(message)
                }
                guard attempt < Self.startAttempts else {
                    host.stop()
                    served.close()
                    throw .runtime((error as? AgentError)?.description ?? "run: read the host: \(error)")
                }
                logger.warning("first apply failed; retrying on a fresh look at the host", metadata: ["error": "\(error)", "attempt": "\(attempt)"])
                try? await Task.sleep(for: .milliseconds(100 * attempt))
            }
        }
        served.startEvents(logger: logger)
        notifier.ready(status: reconciler.statusLine)

        let loop = ReconcileLoop(
            reconciler: reconciler, host: host, changes: changes, signals: signals, logger: logger, notifier: notifier,
            warnings: warnings, metrics: served.metrics)
        // SIGTERM and SIGINT reach the group through the loop's own signal
        // sequence (trapped early, above), not through the group's.
        let group = ServiceGroup(configuration: .init(services: [.init(service: loop)], logger: logger))
        loop.shutdown = { await group.triggerGracefulShutdown() }
        do {
            try await group.run()
        } catch {
            logger.error("reconcile loop ended", metadata: ["error": "\(error)"])
        }
        notifier.stopping()
        host.stop()
        served.close()
        if configuration.unloadOnExit {
            do {
                let interfaces = (try? host.inventory().interfaces) ?? []
                _ = try agent.unload(interfaces: interfaces)
                logger.info("unloaded on exit", metadata: ["pin_dir": "\(pinDirectory)"])
            } catch {
                logger.error("unload on exit failed", metadata: ["error": "\(error)"])
            }
        } else {
            logger.info("stopping; enforcement stays in place", metadata: ["status": "\(reconciler.statusLine)"])
        }
    }

    static func metadata(_ report: ApplyReport, cause: String) -> Logger.Metadata {
        var metadata: Logger.Metadata = [
            "cause": "\(cause)", "generation": "\(report.generation)", "digest": "\(report.digest)",
            "interfaces": "\(report.interfaces.map { "\($0.name)@\($0.ifindex)" }.joined(separator: ","))",
        ]
        // An interface enforcing from a later ingress hook than asked: the operator's to know why.
        if !report.ingressFallbacks.isEmpty {
            metadata["ingress_fallbacks"] = "\(report.ingressFallbacks.map(\.description).joined(separator: " | "))"
        }
        return metadata
    }
}

/// The loop as a service of the group: it owns the reconciler (which is not
/// Sendable) from its one task, so `@unchecked Sendable` holds.
final class ReconcileLoop: Service, @unchecked Sendable {
    private let reconciler: Reconciler
    private let host: any HostWatch
    private let changes: AsyncStream<HostChange>
    private let signals: UnixSignalsSequence
    /// Asks the group for a graceful shutdown (set once, before `run`).
    var shutdown: @Sendable () async -> Void = {}
    private let logger: Logger
    private let notifier: Notifier
    private let triggers = Triggers()
    private let metrics: DaemonMetrics?
    private let clock = ContinuousClock()
    /// The policy warnings last logged: a swap repeats them only when they change.
    private var warnings: [String] = []
    /// Wait before retrying a failed step; doubles up to the resync interval.
    private var backoff = ReconcileLoop.firstBackoff
    static let firstBackoff = Duration.milliseconds(100)

    init(
        reconciler: Reconciler, host: any HostWatch, changes: AsyncStream<HostChange>, signals: UnixSignalsSequence,
        logger: Logger, notifier: Notifier, warnings: [String], metrics: DaemonMetrics? = nil
    ) {
        self.metrics = metrics
        self.warnings = warnings
        self.reconciler = reconciler
        self.host = host
        self.changes = changes
        self.signals = signals
        self.logger = logger
        self.notifier = notifier
    }

    func run() async throws {
        let triggers = triggers
        let interval = reconciler.configuration.resyncInterval
        await withTaskGroup(of: Void.self) { group in
            group.addTask { [changes] in
                for await change in changes { triggers.host(change) }
            }
            group.addTask { [signals, shutdown, logger] in
                for await signal in signals {
                    if signal == .sighup {
                        triggers.post { $0.reload = true }
                    } else {
                        logger.info("shutting down", metadata: ["signal": "\(signal)"])
                        await shutdown()
                    }
                }
            }
            group.addTask {
                while (try? await Task.sleep(for: interval)) != nil { triggers.post { $0.resync = true } }
            }
            if let period = reconciler.configuration.watchPolicy {
                let path = reconciler.configuration.policyPath
                group.addTask { [logger] in
                    var watch = PolicyFileWatch(path: path)
                    while (try? await Task.sleep(for: period)) != nil {
                        guard watch.changed() else { continue }
                        logger.info("the policy file changed; reloading", metadata: ["path": "\(watch.path)"])
                        triggers.post { $0.reload = true }
                    }
                }
            }
            if let period = notifier.watchdogInterval {
                group.addTask { [notifier] in
                    while (try? await Task.sleep(for: period / 2)) != nil { notifier.watchdog() }
                }
            }
            await withGracefulShutdownHandler {
                for await _ in triggers.stream { step() }
            } onGracefulShutdown: {
                triggers.finish()
            }
            group.cancelAll()
            host.stop()
        }
    }

    /// One reconcile over everything posted since the last one.
    func step() {
        let pending = triggers.take()
        guard !pending.isEmpty else { return }
        reconciler.count(pending)
        for kind in pending.kinds { metrics?.recordHostChange(kind.rawValue) }
        if pending.resync || pending.retry { metrics?.recordHostChange("resync") }
        if pending.kinds.contains(.overflow) {
            logger.warning("netlink overflow: events were lost; resyncing from a full dump")
        }
        var reloaded = false
        if pending.reload {
            notifier.reloading()
            reloaded = reconciler.reload()
            if !reloaded { metrics?.recordReload(success: false) }
        }
        let cause = pending.reload ? "reload" : pending.hostSignals > 0 ? "host" : pending.retry ? "retry" : "resync"
        do {
            let report = try reconciler.reconcile(host: host.inventory())
            if reloaded { metrics?.recordReload(success: true) }
            backoff = Self.firstBackoff
            if report.changed {
                var metadata = Daemon.metadata(report, cause: cause)
                if let oldest = pending.oldest {
                    let latency = clock.now - oldest
                    reconciler.recordLatency(latency)
                    metrics?.recordEnforceLatency(latency)
                    metadata["latency_ms"] = "\(latency.milliseconds)"
                }
                logger.info("enforcing", metadata: metadata)
                let current = report.warnings.map(\.description)
                for warning in current where !warnings.contains(warning) { logger.warning("\(warning)") }
                warnings = current
            }
        } catch AgentError.refused {
            // Logged by the reconciler; the running generation is untouched, nothing to retry.
            metrics?.recordReload(success: false)
        } catch {
            let wait = backoff
            backoff = min(backoff * 2, reconciler.configuration.resyncInterval)
            logger.error("reconcile failed; retrying", metadata: ["cause": "\(cause)", "error": "\(error)", "retry_in": "\(wait)"])
            let triggers = triggers
            Task {
                try? await Task.sleep(for: wait)
                triggers.post { $0.retry = true }
            }
        }
        if pending.reload {
            notifier.ready(status: reconciler.statusLine)
        } else {
            notifier.status(reconciler.statusLine)
        }
    }
}

/// What the daemon serves besides enforcement, and how to reach the kernel for
/// it: left empty (tests of the loop), the daemon serves nothing.
public struct Observability: Sendable {
    /// Opens the ring (after the first apply pinned it); nil: no events socket.
    public var openEvents: (@Sendable () throws -> any RawEventSource)?
    /// Names for the events of a new generation.
    public var describer: @Sendable () -> EventDescriber?
    /// Reads the kernel for a scrape; nil: no metrics, whatever --metrics says.
    public var sampler: (any KernelSampler)?
    public var version: String

    public init(
        openEvents: (@Sendable () throws -> any RawEventSource)? = nil,
        describer: @escaping @Sendable () -> EventDescriber? = { nil }, sampler: (any KernelSampler)? = nil,
        version: String = "dev"
    ) {
        self.openEvents = openEvents
        self.describer = describer
        self.sampler = sampler
        self.version = version
    }
}

/// The events socket and the metrics endpoint of one daemon, on one event loop.
final class Served: Sendable {
    let metrics: DaemonMetrics?
    private let hub: EventHub?
    private let openEvents: (@Sendable () throws -> any RawEventSource)?
    private let group: MultiThreadedEventLoopGroup
    private let servers: [@Sendable () -> Void]

    init(configuration: DaemonConfiguration, observability: Observability, logger: Logger) throws {
        group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        openEvents = observability.openEvents
        hub = observability.openEvents == nil ? nil : EventHub(logger: logger, describer: observability.describer)
        metrics = observability.sampler.map { DaemonMetrics(sampler: $0, version: observability.version) }
        var servers: [@Sendable () -> Void] = []
        do {
            if let hub {
                let path = configuration.runtime.eventsSocket
                do {
                    let server = try EventServer(path: path, hub: hub, group: group, logger: logger)
                    servers.append { server.close() }
                    logger.info("serving events", metadata: ["socket": "\(path)"])
                } catch {
                    throw SystemError(serving: "events on", object: path, error, inUse: "another daemon may use this runtime directory")
                }
            }
            if let metrics, let endpoint = configuration.metrics {
                do {
                    let server = try MetricsServer(
                        host: endpoint.host, port: endpoint.port, metrics: metrics, hub: hub, group: group, logger: logger)
                    servers.append { server.close() }
                    logger.info("serving metrics", metadata: ["address": "\(server.localAddress.map { "\($0)" } ?? "\(endpoint)")"])
                } catch {
                    throw SystemError(serving: "metrics on", object: "\(endpoint)", error, inUse: "another daemon may hold it; give each its own --metrics port, or --metrics off")
                }
            }
        } catch {
            for close in servers { close() }
            try? group.syncShutdownGracefully()
            throw error
        }
        self.servers = servers
    }

    /// Starts reading the ring: after the first apply, which pins it.
    func startEvents(logger: Logger) {
        guard let hub, let openEvents else { return }
        do {
            hub.start(source: try openEvents())
        } catch {
            logger.error("cannot read the events ring; the daemon runs without events", metadata: ["error": "\(error)"])
        }
    }

    func close() {
        hub?.stop()
        for close in servers { close() }
        try? group.syncShutdownGracefully()
    }
}

extension SystemError {
    /// A server that could not start: swift-nio's IOError carries the errno;
    /// an address in use gets `inUse` as a hint.
    init(serving what: String, object: String, _ error: any Error, inUse: String) {
        guard let io = error as? IOError else {
            self.init(verb: "serve \(what)", object: object, errno: 0, detail: "\(error)")
            return
        }
        self.init(
            verb: "serve \(what)", object: object, errno: io.errnoCode,
            detail: io.errnoCode == EADDRINUSE ? inUse : nil)
    }
}
