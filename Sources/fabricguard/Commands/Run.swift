import ArgumentParser
import FabricAgent
import FabricDaemon
import FabricHost
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

            Signals: SIGHUP reloads the policy file (a file that fails validation is
            refused and logged; the running generation stays). SIGTERM and SIGINT
            exit 0 and leave enforcement in place; --unload-on-exit detaches instead.
            A restarted run adopts what is pinned, without a gap.

            One writer per pin directory: a second run exits 1 naming the first one's
            pid, and `apply` refuses while run owns the directory. Under systemd
            (Type=notify) it reports READY=1 once enforcing, RELOADING=1 around a
            reload, STATUS= with the generation, and WATCHDOG=1 when WatchdogSec= asks.
            Logs go to stderr.

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

    @Flag(name: .long, help: "On SIGTERM/SIGINT, detach everything and remove the pins instead of leaving enforcement in place.")
    var unloadOnExit = false

    @Option(name: .long, help: ArgumentHelp("Log level: trace, debug, info, notice, warning, error, critical.", valueName: "level"))
    var logLevel: Logger.Level = .info

    @OptionGroup var pins: PinOptions

    func validate() throws {
        guard resync > 0 else { throw ValidationError("--resync must be more than 0 seconds") }
    }

    func runDaemon() async throws {
        let level = logLevel
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = level
            return handler
        }
        let configuration = DaemonConfiguration(
            policyPath: enforce.absolutePolicyPath,
            pinDirectory: pins.pinDir, runtime: pins.runtime,
            resyncInterval: .milliseconds(Int64(resync * 1000)), unloadOnExit: unloadOnExit,
            allowMissing: enforce.allowMissing, ingressHook: enforce.ingressHook)
        let pinDir = pins.pinDir
        let daemon = Daemon(
            configuration: configuration, host: NetlinkHostWatch(), logger: Logger(label: "fabricguard"),
            makeAgent: { Agent(datapath: LinuxDatapath(pinDirectory: pinDir)) },
            timestamp: { ISO8601DateFormatter().string(from: Date()) })
        do {
            try await daemon.run()
        } catch {
            switch error {
            case .policy(let policyError):
                throw CommandFailure(status: .usageOrPolicy, message: policyError.description, diagnostics: policyError.diagnostics)
            case .runtime(let message):
                throw CommandFailure(status: .runtimeFailure, message: message)
            }
        }
    }
}

extension Logger.Level: @retroactive ExpressibleByArgument {}
