import ArgumentParser
import FabricAgent
import FabricHost
import FabricNetlink
import FabricPolicy
import Foundation

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

            Hooks: tc egress, and XDP ingress (driver mode, else generic, else tc
            ingress; --ingress-hook tc asks for tc). Management interfaces are never
            attached. Needs CAP_BPF and CAP_NET_ADMIN.

            One writer per pin directory: concurrent applies wait for each other, and
            apply refuses (exit 1) while `fabricguard run` owns the directory: edit the
            daemon's policy file and send it SIGHUP instead.

            Examples:
              sudo fabricguard apply --policy /etc/fabricguard/fabrics.yaml
              sudo nsenter --net=/run/netns/lab fabricguard apply --policy lab.yaml --pin-dir /sys/fs/bpf/lab
            """
    )

    @OptionGroup var enforce: EnforceOptions

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
        let policy = try PolicyOptions.loadPolicy(path: enforce.policy)
        let host: HostInventory
        do {
            host = try LiveHost().inventory()
        } catch {
            throw CommandFailure(status: .runtimeFailure, message: "apply \(enforce.policy): \(error)")
        }
        let vet = try enforce.lockoutGuard("apply", host: host)
        let report: ApplyReport
        do {
            report = try agent.apply(
                policy: policy, host: host,
                options: ApplyOptions(
                    policyPath: enforce.absolutePolicyPath, allowMissing: enforce.allowMissing, ingressHook: enforce.ingressHook,
                    timestamp: ISO8601DateFormatter().string(from: Date()), vet: vet))
        } catch {
            throw error.failure
        }
        if output.json {
            try JSONOutput.print(report)
            return
        }
        let was = report.previousGeneration.map { " (was \($0))" } ?? ""
        print("applied \(enforce.policy): generation \(report.generation)\(was), \(report.digest), live after \(String(format: "%.0f", report.timings.visibleMs)) ms")
        for interface in report.interfaces {
            let hooks = interface.hooks.isEmpty ? "no hooks (both directions off)" : interface.hooks.map(\.rawValue).joined(separator: ", ")
            print("  \(interface.name) (ifindex \(interface.ifindex)) fabric \(interface.fabric): \(hooks)")
        }
        if !report.detached.isEmpty { print("  detached from: \(report.detached.joined(separator: ", "))") }
        for warning in report.warnings { print("warning: \(warning)") }
    }
}

extension IngressHookPreference: ExpressibleByArgument {}
