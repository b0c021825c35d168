import ArgumentParser
import FabricAgent
import FabricBPF
import FabricDaemon
import FabricEvents
import FabricHost
import FabricNetlink
import FabricPolicy
import Foundation
import Logging

struct Run: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "The daemon: apply a policy, then keep the kernel equal to (policy, live host).",
        discussion: """
            Applies the policy exactly as `apply` does, then follows the host: a policy
            interface that appears or is re-created gets its hooks, one that goes away
            loses its entries, address changes update the strong-host and redirect
            data, a redirect target that goes down stops receiving redirects (they
            drop as redirect_unavailable) until it comes back. Each change is one
            hitless generation swap. A full resync runs every --resync seconds and
            after any failed step, so a missed event costs at most one interval.

            --watch-policy also reloads when the file's content changes (checked every
            2 s; a Kubernetes ConfigMap update, an editor's save).

            Signals: SIGHUP reloads the policy file (a file that fails validation, or
            that the lockout guard refuses, is refused and logged; the running
            generation stays). SIGTERM and SIGINT
            exit 0 and leave enforcement in place; --unload-on-exit detaches instead.
            A restarted run adopts what is pinned, without a gap.

            One writer per pin directory: a second run exits 1 naming the first one's
            pid, and `apply` refuses while run owns the directory. Under systemd
            (Type=notify) it reports READY=1 once enforcing, RELOADING=1 around a
            reload, STATUS= with the generation, and WATCHDOG=1 when WatchdogSec= asks.
            Logs go to stderr; violations are summarized per interface and reason at
            most every 10 s (with the most frequent source -> destination).

            Events: the daemon owns the events ring and serves it on a unix socket
            (mode 0600) in its runtime directory; `fabricguard events` connects to it,
            any number at once. A reader too slow to keep up loses events (counted
            in fabricguard_event_client_drops_total), never the daemon's time.

            Metrics: Prometheus text format at http://ADDR:PORT/metrics, `ok` at
            /healthz (default \(Run.defaultMetrics), loopback only unless
            --metrics-allow-remote; `--metrics off` serves none). Kernel counters
            are read at scrape time. docs/cli.md lists the metrics.

            Examples:
              sudo fabricguard run --policy /etc/fabricguard/fabrics.yaml
              sudo nsenter --net=/run/netns/lab fabricguard run --policy lab.yaml --pin-dir /sys/fs/bpf/lab
              sudo kill -HUP $(fabricguard status --json | jq .daemon_pid)   # reload
            """
    )

    // --allow-missing applies to the first apply: later, interfaces coming and going are followed.
    @OptionGroup var enforce: EnforceOptions

    @Option(name: .long, help: ArgumentHelp("Seconds between full resyncs with the host.", valueName: "seconds"))
    var resync: Double = 30

    @Flag(name: .long, help: "Reload when the policy file's content changes (a ConfigMap update), as on SIGHUP.")
    var watchPolicy = false

    @Flag(name: .long, help: "On SIGTERM/SIGINT, detach everything and remove the pins instead of leaving enforcement in place.")
    var unloadOnExit = false

    @Option(name: .long, help: ArgumentHelp("Log level: trace, debug, info, notice, warning, error, critical.", valueName: "level"))
    var logLevel: Logger.Level = .info

    @Option(
        name: .long,
        help: ArgumentHelp("Serve Prometheus metrics here (ADDR:PORT, [IPv6]:PORT, or off).", valueName: "addr:port|off"))
    var metrics = Run.defaultMetrics

    @Flag(name: .long, help: "Allow --metrics on an address other than loopback (the endpoint has no authentication).")
    var metricsAllowRemote = false

    @OptionGroup var pins: PinOptions

    static let defaultMetrics = "127.0.0.1:9750"

    func validate() throws {
        guard resync > 0 else { throw ValidationError("--resync must be more than 0 seconds") }
        if let endpoint = try Self.endpoint(metrics), !metricsAllowRemote, !Self.isLoopback(endpoint.host) {
            throw ValidationError(
                "--metrics \(metrics): \(endpoint.host) is not a loopback address; the endpoint has no authentication,"
                    + " so serving it beyond this host needs --metrics-allow-remote")
        }
    }

    /// `off`, `HOST:PORT` or `[IPv6]:PORT`.
    static func endpoint(_ text: String) throws -> MetricsEndpoint? {
        if text == "off" { return nil }
        let host: Substring, port: Substring
        if text.hasPrefix("["), let close = text.firstIndex(of: "]"), text[text.index(after: close)...].hasPrefix(":") {
            host = text[text.index(after: text.startIndex)..<close]
            port = text[text.index(close, offsetBy: 2)...]
        } else if let colon = text.lastIndex(of: ":"), !text[..<colon].contains(":") {
            host = text[..<colon]
            port = text[text.index(after: colon)...]
        } else {
            throw ValidationError("--metrics \(text): expected ADDR:PORT, [IPv6]:PORT or off (e.g. \(defaultMetrics))")
        }
        guard let number = Int(port), (0...65535).contains(number) else {
            throw ValidationError("--metrics \(text): '\(port)' is not a port (0-65535)")
        }
        guard host == "localhost" || IPAddress(String(host)) != nil else {
            throw ValidationError("--metrics \(text): '\(host)' is not an IP address (or localhost)")
        }
        return MetricsEndpoint(host: host == "localhost" ? "127.0.0.1" : String(host), port: number)
    }

    static func isLoopback(_ host: String) -> Bool {
        guard let address = IPAddress(host) else { return false }
        return address == IPAddress("::1") || IPPrefix(covering: IPAddress("127.0.0.0")!, length: 8).contains(address)
    }

    func runDaemon() async throws {
        let level = logLevel
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = level
            return handler
        }
        var configuration = DaemonConfiguration(
            policyPath: enforce.absolutePolicyPath,
            pinDirectory: pins.pinDir, runtime: pins.runtime,
            resyncInterval: .milliseconds(Int64(resync * 1000)), unloadOnExit: unloadOnExit,
            allowMissing: enforce.allowMissing, ingressHook: enforce.ingressHook, metrics: try Self.endpoint(metrics))
        configuration.watchPolicy = watchPolicy ? .seconds(2) : nil
        configuration.tcAttach = enforce.tcAttach
        configuration.tcOrder = enforce.tcOrder
        do {
            configuration.vet = try enforce.lockoutGuard("run", host: LiveHost().inventory())
        } catch let failure as CommandFailure {
            throw failure
        } catch {
            throw CommandFailure(status: .runtimeFailure, message: "run: read the host: \(error)")
        }
        let pinDir = pins.pinDir
        let observability = Observability(
            openEvents: { try LinuxDatapath(pinDirectory: pinDir).eventRing() },
            describer: {
                try? EventDescriber(datapath: LinuxDatapath(pinDirectory: pinDir), host: LiveHost().inventory().interfaces)
            },
            sampler: PinnedSampler(pinDirectory: pinDir), version: FabricGuard.version)
        let daemon = Daemon(
            configuration: configuration, host: NetlinkHostWatch(), logger: Logger(label: "fabricguard"),
            observability: observability,
            makeAgent: { Agent(datapath: LinuxDatapath(pinDirectory: pinDir)) },
            timestamp: { ISO8601DateFormatter().string(from: Date()) })
        do {
            try await daemon.run()
        } catch {
            switch error {
            case .policy(let policyError):
                throw CommandFailure(status: .usageOrPolicy, message: policyError.description, diagnostics: policyError.diagnostics)
            case .refused(let message):
                throw CommandFailure(status: .usageOrPolicy, message: message)
            case .runtime(let message):
                throw CommandFailure(status: .runtimeFailure, message: message)
            }
        }
    }
}

extension Logger.Level: @retroactive ExpressibleByArgument {}
