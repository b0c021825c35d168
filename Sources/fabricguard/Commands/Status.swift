import ArgumentParser
import FabricAgent

struct Status: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Show what is attached where, the policy generation and its digest.",
        discussion: """
            Reads the pins in --pin-dir and asks the kernel which of fabricguard's
            programs are on each interface's hooks; a hook the last apply attached but
            the kernel no longer shows is reported as missing.

            Examples:
              fabricguard status
              fabricguard status --pin-dir /sys/fs/bpf/lab --json | jq .generation
            """
    )

    @OptionGroup var pins: PinOptions
    @OptionGroup var output: OutputOptions

    func run() throws {
        let report: StatusReport
        do {
            report = try pins.agent().status()
        } catch {
            throw error.failure
        }
        if output.json {
            try JSONOutput.print(report)
            return
        }
        guard report.installed else {
            print("nothing applied in \(pins.pinDir)")
            return
        }
        print("policy \(report.policy ?? "?"), generation \(report.generation ?? 0) (bank \(report.activeBank ?? 0)), applied \(report.appliedAt ?? "?")")
        print("digest \(report.digest ?? "?")")
        for interface in report.interfaces {
            let hooks = interface.hooks.map { "\($0.hook.rawValue) (program \($0.programID))" }
            print("  \(interface.name) (ifindex \(interface.ifindex)) fabric \(interface.fabric): egress \(interface.egressMode), ingress \(interface.ingressMode)")
            print("    hooks: \(hooks.isEmpty ? "none" : hooks.joined(separator: ", "))")
            if !interface.missing.isEmpty { print("    MISSING: \(interface.missing.map(\.rawValue).joined(separator: ", "))") }
        }
    }
}
