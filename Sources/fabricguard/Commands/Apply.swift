import ArgumentParser
import FabricAgent
import FabricHost
import FabricNetlink
import FabricPolicy
import FabricSystem
import Foundation

#if canImport(Glibc)
import Glibc
#endif

struct Apply: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Enforce a policy: load, attach, or atomically replace the running one.",
        discussion: """
            Validates the policy against this host first: an invalid policy changes
            nothing (exit 2). The new policy is written into the standby generation,
            then switched to in one map write, so no packet is judged half by the old
            policy and half by the new. Enforcement continues after this command exits;
            a later apply (or `run`) adopts what is pinned in --pin-dir.

            Lockout guard: a policy under which the reference decision would drop
            your own SSH session (SSH_CONNECTION: its local address, on the interface
            its replies leave through) or the default route's traffic is refused
            (exit 2) with the rule that would drop it; --force applies it anyway and
            says what it overrode.

            --confirm DURATION (90s, 2m, 1h) arms a rollback: unless `fabricguard
            confirm` runs before the deadline, the previously confirmed policy comes
            back (everything is unloaded when there was none). The timer is a helper
            in a session of its own, so a dropped SSH session cannot take it along;
            `status` shows the deadline. An apply without --confirm while one is
            pending confirms it.

            Hooks: tc egress, and for ingress what costs less per interface
            (--ingress-hook auto: tc ingress on veths, else XDP in driver mode, else
            tc; xdp or tc insist). Management interfaces are never
            attached. Needs CAP_BPF and CAP_NET_ADMIN. The tc hooks are tcx links
            (Linux 6.6+, no qdisc; --tc-order first|last places them among the
            other programs on the hook, first by default so that no program ahead
            can pass a frame past enforcement), or clsact filters on older kernels
            or with --tc-attach clsact; `status` says which.

            One writer per pin directory: concurrent applies wait for each other, and
            apply refuses (exit 1) while `fabricguard run` owns the directory: edit the
            daemon's policy file and send it SIGHUP instead.

            Examples:
              sudo fabricguard apply --policy /etc/fabricguard/fabrics.yaml
              sudo nsenter --net=/run/netns/lab fabricguard apply --policy lab.yaml --pin-dir /sys/fs/bpf/lab
              sudo fabricguard apply --policy fabrics.yaml --tc-order last    # after the other tcx programs
            """
    )

    @OptionGroup var enforce: EnforceOptions

    @Option(name: .long, help: ArgumentHelp("Roll back unless `fabricguard confirm` runs within this long (90s, 2m, 1h).", valueName: "duration"))
    var confirm: ConfirmWindow?

    @OptionGroup var pins: PinOptions
    @OptionGroup var output: OutputOptions

    func run() throws {
        // One writer at a time: applies queue, and none runs beside a daemon. The
        // lock comes first: programs preloaded before it could adopt maps another
        // apply is about to replace.
        let lock = try pins.lockForWrite("apply")
        defer { lock.release() }
        let agent = pins.agent()
        // A first apply's program verification runs while the policy is read.
        agent.preloadPrograms()
        let runtime = pins.runtime
        let (policy, snapshot) = try readPolicy(runtime: runtime)
        // Renamed into place once applied; gone whatever stops this apply before that.
        defer { if case .success(let staged) = snapshot { unlink(staged) } }
        let host: HostInventory
        do {
            host = try LiveHost().inventory()
        } catch {
            throw CommandFailure(status: .runtimeFailure, message: "apply \(enforce.policy): \(error)")
        }
        let vet = try enforce.lockoutGuard("apply", host: host)
        let armed = try confirm.map { try arm($0) }
        let confirmBy = armed.map { ISO8601DateFormatter().string(from: Date(timeIntervalSince1970: $0.deadline)) }
        let report: ApplyReport
        do {
            report = try agent.apply(
                policy: policy, host: host,
                options: ApplyOptions(
                    policyPath: enforce.absolutePolicyPath, allowMissing: enforce.allowMissing, ingressHook: enforce.ingressHook,
                    timestamp: ISO8601DateFormatter().string(from: Date()), vet: vet, confirmBy: confirmBy,
                    tcAttach: enforce.tcAttach, tcOrder: enforce.tcOrder))
        } catch {
            // Nothing changed: a rollback armed for this apply has nothing to undo.
            if let armed, armed.fresh {
                kill(armed.helperPID, SIGTERM)
                runtime.clearConfirmation()
            }
            throw error.failure
        }
        do {
            let staged = try snapshot.get()
            try SystemError.check(rename(staged, runtime.appliedPolicy), "rename \(staged) to", runtime.appliedPolicy)
        } catch {
            FileHandleOutput.standardError("apply: warning: keep a copy of the applied policy for --confirm: \(error)")
        }
        if armed == nil, let pending = runtime.pendingConfirmation() {
            // Applied without --confirm: the operator keeps this one.
            if pending.helperPID > 0 { kill(pending.helperPID, SIGTERM) }
            runtime.clearConfirmation()
        }
        if output.json {
            try JSONOutput.print(report)
            return
        }
        let was = report.previousGeneration.map { " (was \($0))" } ?? ""
        print("applied \(enforce.policy): generation \(report.generation)\(was), \(report.digest), live after \(String(format: "%.0f", report.timings.visibleMs)) ms")
        for interface in report.interfaces {
            let tc = interface.tcAttach.map { mode in " (tc: \(mode.rawValue)\(interface.tcOrder.map { ", \($0)" } ?? ""))" } ?? ""
            let hooks = interface.hooks.isEmpty ? "no hooks (both directions off)" : interface.hooks.map(\.rawValue).joined(separator: ", ") + tc
            print("  \(interface.name) (ifindex \(interface.ifindex)) fabric \(interface.fabric): \(hooks)")
        }
        if !report.detached.isEmpty { print("  detached from: \(report.detached.joined(separator: ", "))") }
        for fallback in report.ingressFallbacks { print("note: \(fallback)") }
        for warning in report.warnings { print("warning: \(warning)") }
        if let armed {
            let when = ISO8601DateFormatter().string(from: Date(timeIntervalSince1970: armed.deadline))
            print("not confirmed yet: run `fabricguard confirm\(pins.pinDir == PinOptions.defaultPinDir ? "" : " --pin-dir \(pins.pinDir)")` before \(when), or \(armed.previous.map { "the policy confirmed before (applied from \($0))" } ?? "nothing (everything unloads)") comes back")
        }
    }

    /// The policy, and its text staged beside the applied-policy snapshot (renamed into
    /// place once the apply succeeds). The text is read once, so what is applied is exactly
    /// what a rollback would restore, and it is not kept: at a million prefixes it is 16 MB
    /// that would stay resident through the apply.
    private func readPolicy(runtime: RuntimeDirectory) throws -> (Policy, snapshot: Result<String, any Error>) {
        let text: String
        let policy: Policy
        do {
            text = try TextFile.read(enforce.policy, verb: "read policy", maximumSize: TextFile.policyMaximumSize)
            policy = try PolicyLoader.parse(yaml: text, file: enforce.policy)
        } catch let error as PolicyError {
            throw CommandFailure(status: .usageOrPolicy, message: error.description, diagnostics: error.diagnostics)
        } catch {
            throw CommandFailure(status: .usageOrPolicy, message: "\(error)")
        }
        let staged = runtime.appliedPolicy + ".staged"
        return (policy, Result {
            try PrivateDirectory.make(runtime.path)
            try TextFile.write(text, to: staged)
            return staged
        })
    }

    /// Arms `--confirm`'s rollback before anything changes: the policy to go back
    /// to (the last confirmed one), the deadline, and the helper that waits for it.
    func arm(_ window: ConfirmWindow) throws -> (deadline: Double, helperPID: Int32, fresh: Bool, previous: String?) {
        let runtime = pins.runtime
        let prior = runtime.pendingConfirmation()
        var previous = prior?.previousPolicy
        if prior == nil {
            let record = try? LinuxDatapath(pinDirectory: pins.pinDir).record()
            previous = record?.policy
            if record != nil {
                guard let snapshot = try? TextFile.read(runtime.appliedPolicy) else {
                    throw CommandFailure(
                        status: .usageOrPolicy,
                        message: "apply --confirm: no copy of the running policy to roll back to (it was applied before this fabricguard kept one); apply it once without --confirm, then again with it")
                }
                try PrivateDirectory.make(runtime.path)
                try TextFile.write(snapshot, to: runtime.rollbackPolicy)
            }
        } else if let helper = prior?.helperPID, helper > 0 {
            kill(helper, SIGTERM)  // the new deadline replaces it; the policy to go back to stays
        }
        var pending = PendingConfirmation(
            token: UUID().uuidString, deadline: Date().timeIntervalSince1970 + window.seconds, helperPID: 0, previousPolicy: previous)
        try runtime.writePendingConfirmation(pending)
        pending.helperPID = try spawnRollbackHelper(token: pending.token, pinDir: pins.pinDir, runtimeDir: runtime.path)
        try runtime.writePendingConfirmation(pending)
        return (pending.deadline, pending.helperPID, prior == nil, previous)
    }
}

extension IngressHookPreference: ExpressibleByArgument {}
extension TCAttachPreference: ExpressibleByArgument {}
extension TCOrder: ExpressibleByArgument {}
