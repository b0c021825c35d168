import ArgumentParser
import FabricAgent
import FabricHost
import FabricNetlink

struct Status: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Show what is attached where, the policy generation, its digest and what is wrong.",
        discussion: """
            Reads the pins in --pin-dir, asks the kernel which of fabricguard's programs
            are on each interface's hooks, and holds both against the host as it is now.
            Problems: interface_missing (a policy interface is not on the host),
            hook_missing (a hook the policy wants is not attached), stale_ifindex (the
            interface was re-created and the hooks hang on its old ifindex),
            redirect_target_down (an interface redirected traffic needs is down),
            partial_apply (pins of a first apply that died half-way).

            Exit status: 0 healthy, 3 nothing applied in --pin-dir, 4 applied but
            degraded (any problem), 1 the state could not be read (e.g. the pin
            directory is not readable).

            Examples:
              fabricguard status
              fabricguard status --pin-dir /sys/fs/bpf/lab --json | jq .problems
            """
    )

    @OptionGroup var pins: PinOptions
    @OptionGroup var output: OutputOptions

    func run() throws {
        var report: StatusReport
        do {
            let host = try LiveHost().inventory()
            report = try pins.agent().status(host: host.interfaces)
        } catch let error as AgentError {
            throw error.failure
        } catch {
            throw CommandFailure(status: .runtimeFailure, message: "status: \(error)")
        }
        report.daemonPID = PinOwnership.daemonPID(pinDirectory: pins.pinDir, runtime: pins.runtime)
        let exit: ExitStatus = !report.installed ? .nothingApplied : report.healthy ? .success : .degraded
        if output.json {
            try JSONOutput.print(report)
        } else {
            print(Self.text(report, pinDir: pins.pinDir))
        }
        if exit != .success { throw CommandFailure(status: exit, message: "") }
    }

    static func text(_ report: StatusReport, pinDir: String) -> String {
        let daemon = report.daemonPID.map { "daemon: fabricguard run, pid \($0)" } ?? "daemon: none (enforcement from the last apply)"
        guard report.installed else { return "nothing applied in \(pinDir)" }
        var lines: [String] = []
        if let generation = report.generation {
            lines.append("policy \(report.policy ?? "?"), generation \(generation) (bank \(report.activeBank ?? 0)), applied \(report.appliedAt ?? "?")")
            lines.append("digest \(report.digest ?? "?")")
        }
        lines.append(daemon)
        if let deadline = report.confirmBy {
            lines.append("NOT CONFIRMED: the previous policy comes back at \(deadline) unless `fabricguard confirm` runs")
        }
        lines.append(report.healthy ? "healthy" : "DEGRADED: \(report.problems.count) problem\(report.problems.count == 1 ? "" : "s")")
        for problem in report.problems { lines.append("  \(problem.problem.rawValue): \(problem.detail)") }
        for interface in report.interfaces {
            let hooks = interface.hooks.map { hook in
                let place = hook.position.map { position in
                    " \(position)/\(hook.hookPrograms ?? position)\(interface.tcOrder.map { ", \($0)" } ?? "")"
                } ?? ""
                return "\(hook.hook.rawValue) (\(hook.attach.rawValue)\(place), program \(hook.programID))"
            }
            lines.append("  \(interface.name) (ifindex \(interface.ifindex)) fabric \(interface.fabric): egress \(interface.egressMode), ingress \(interface.ingressMode)")
            lines.append("    hooks: \(hooks.isEmpty ? "none" : hooks.joined(separator: ", "))")
            if !interface.missing.isEmpty { lines.append("    MISSING: \(interface.missing.map(\.rawValue).joined(separator: ", "))") }
            for refusal in interface.ingressRefused ?? [] { lines.append("    ingress not on \(refusal.hook.rawValue): \(refusal.error)") }
        }
        return lines.joined(separator: "\n")
    }
}
