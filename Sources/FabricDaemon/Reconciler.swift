import FabricAgent
import FabricCompiler
import FabricHost
import FabricPolicy
import Logging

/// What the daemon runs with; the command line's flags.
public struct DaemonConfiguration: Sendable {
    public var policyPath: String
    public var pinDirectory: String
    public var runtime: RuntimeDirectory
    /// A full resync this often, whatever the events say.
    public var resyncInterval: Duration
    /// Detach and unpin on SIGTERM/SIGINT instead of leaving enforcement in place.
    public var unloadOnExit: Bool
    /// Applies to the first apply only: later, an interface that goes away is an
    /// event to follow, not an error.
    public var allowMissing: Bool
    public var ingressHook: IngressHookPreference
    /// `--tc-attach` and `--tc-order`, for every apply the daemon makes.
    public var tcAttach: TCAttachPreference = .auto
    public var tcOrder: TCOrder?
    /// Where to serve Prometheus metrics; nil: nowhere.
    public var metrics: MetricsEndpoint?
    /// Reload when the policy file's content changes, checked this often (nil: SIGHUP only).
    public var watchPolicy: Duration?
    /// The lockout guard, asked about the first apply and every reload (not
    /// about host changes: the policy the operator accepted stays enforced).
    public var vet: (@Sendable (MapPlan) -> String?)?

    public init(
        policyPath: String, pinDirectory: String, runtime: RuntimeDirectory, resyncInterval: Duration = .seconds(30),
        unloadOnExit: Bool = false, allowMissing: Bool = false, ingressHook: IngressHookPreference = .auto,
        metrics: MetricsEndpoint? = nil
    ) {
        self.metrics = metrics
        self.policyPath = policyPath
        self.pinDirectory = pinDirectory
        self.runtime = runtime
        self.resyncInterval = resyncInterval
        self.unloadOnExit = unloadOnExit
        self.allowMissing = allowMissing
        self.ingressHook = ingressHook
    }
}

/// `--metrics ADDR:PORT`.
public struct MetricsEndpoint: Sendable, Equatable, CustomStringConvertible {
    public var host: String
    public var port: Int

    public init(host: String, port: Int) {
        self.host = host
        self.port = port
    }

    public var description: String { host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)" }
}

/// What the loop did, for logs, STATUS= and (later) metrics.
public struct DaemonCounters: Sendable, Equatable {
    public var reloadsSucceeded = 0
    public var reloadsFailed = 0
    /// Host signals by kind (link, address, overflow) plus full resyncs.
    public var hostChanges: [String: Int] = [:]
    /// Generation swaps the loop made (an unchanged resync makes none).
    public var swaps = 0
    public var failedSteps = 0
    /// Event -> enforced, for every step that changed the kernel after a host signal.
    public var enforceLatencies: [Duration] = []
}

/// The one reconcile step: (policy, host now) -> plan -> the kernel, changed
/// only where it differs. Synchronous and single-threaded: the loop owns it.
public final class Reconciler {
    public let configuration: DaemonConfiguration
    public let agent: Agent
    public private(set) var policy: Policy
    /// The policy a reload replaced, until the reload's first step is applied.
    private var replaced: Policy?
    public private(set) var counters = DaemonCounters()
    /// The running generation and digest, once the first apply succeeded.
    public private(set) var running: (generation: UInt64, digest: String)?
    private let logger: Logger
    private let clock: @Sendable () -> String

    /// `clock` gives the ISO 8601 time recorded with each apply.
    public init(
        configuration: DaemonConfiguration, agent: Agent, policy: Policy, logger: Logger,
        clock: @escaping @Sendable () -> String
    ) {
        self.configuration = configuration
        self.agent = agent
        self.policy = policy
        self.logger = logger
        self.clock = clock
    }

    /// "generation 7, sha256:…" for STATUS= and logs.
    public var statusLine: String {
        guard let running else { return "starting" }
        return "generation \(running.generation), \(running.digest)"
    }

    /// Re-reads the policy file. A file that fails validation is refused: it is
    /// logged with its file:line error and counted, and the running policy stays.
    @discardableResult
    public func reload() -> Bool {
        do {
            let reloaded = try PolicyLoader.load(path: configuration.policyPath)
            replaced = policy
            policy = reloaded
            counters.reloadsSucceeded += 1
            logger.info("policy reloaded", metadata: ["path": "\(configuration.policyPath)"])
            return true
        } catch {
            counters.reloadsFailed += 1
            logger.error(
                "policy reload refused; the running policy stays",
                metadata: ["path": "\(configuration.policyPath)", "error": "\(error)"])
            return false
        }
    }

    /// Makes the kernel enforce (policy, host). `first` is the start-up apply:
    /// it honours --allow-missing and always writes a generation, so that a
    /// restarted daemon proves the pins it adopted are usable.
    @discardableResult
    public func reconcile(host: HostInventory, first: Bool = false) throws(AgentError) -> ApplyReport {
        // The guard looks at what the operator asked for: the first policy and each reload.
        let vetted = first || replaced != nil
        let options = ApplyOptions(
            policyPath: configuration.policyPath, allowMissing: first ? configuration.allowMissing : true,
            ingressHook: configuration.ingressHook, timestamp: clock(), onlyIfChanged: !first,
            vet: vetted ? configuration.vet : nil, tcAttach: configuration.tcAttach, tcOrder: configuration.tcOrder)
        do {
            let report = try agent.apply(policy: policy, host: host, options: options)
            running = (report.generation, report.digest)
            replaced = nil
            if report.changed { counters.swaps += 1 }
            return report
        } catch {
            if case .refused = error, let previous = replaced {
                // A reloaded policy the guard refused: the running one stays, as for a file that does not validate.
                policy = previous
                replaced = nil
                counters.reloadsSucceeded -= 1
                counters.reloadsFailed += 1
                logger.error(
                    "policy reload refused; the running policy stays",
                    metadata: ["path": "\(configuration.policyPath)", "error": "\(error)"])
            } else {
                counters.failedSteps += 1
            }
            throw error
        }
    }

    func count(_ pending: Pending) {
        for kind in pending.kinds { counters.hostChanges[kind.rawValue, default: 0] += 1 }
        if pending.resync || pending.retry { counters.hostChanges["resync", default: 0] += 1 }
    }

    func recordLatency(_ latency: Duration) {
        // A bounded window: the daemon runs for months.
        if counters.enforceLatencies.count >= 4096 { counters.enforceLatencies.removeFirst(2048) }
        counters.enforceLatencies.append(latency)
    }
}
