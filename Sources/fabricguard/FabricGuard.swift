import ArgumentParser
import FabricPolicy

struct FabricGuard: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "fabricguard",
        abstract: "Keep multi-homed storage hosts on their fabrics: every packet leaves through, and arrives on, the fabric that owns its address.",
        discussion: """
            A policy (YAML) names the fabrics of this host, their interfaces and the
            prefixes they own. fabricguard validates it against the host, compiles it
            into BPF map contents and enforces it in tc egress and XDP ingress programs.
            The same decision runs in pure Swift for `explain` and dry-runs.

            Start with:
              fabricguard inventory                      # what this host has
              fabricguard check --policy fabrics.yaml    # validate and show the compiled plan
              fabricguard explain --policy fabrics.yaml --out ens1f0 --src 10.2.0.5
              sudo fabricguard apply --policy fabrics.yaml  # enforce; survives this process
              sudo fabricguard run --policy fabrics.yaml    # enforce and follow the host (daemon)
              fabricguard status; fabricguard stats       # what runs, what it did

            Exit status: 0 success, 1 runtime failure, 2 usage or policy error;
            `status`: 3 nothing applied, 4 applied but degraded.
            """,
        version: FabricGuard.version,
        subcommands: [Check.self, Explain.self, Inventory.self, Apply.self, Run.self, Status.self, Stats.self, Events.self, Unload.self, DryRunCommand.self, Learn.self, Lint.self, Confirm.self, RollbackHelper.self]
    )
}

extension FabricGuard {
    static let version = "0.1.0"
}

/// Exit statuses, part of the contract (docs/cli.md). 3 and 4 mean
/// different things to different verbs, hence a struct and not an enum.
struct ExitStatus: RawRepresentable, Equatable, Sendable {
    let rawValue: Int32

    static let success = ExitStatus(rawValue: 0)
    static let runtimeFailure = ExitStatus(rawValue: 1)
    static let usageOrPolicy = ExitStatus(rawValue: 2)
    /// dry-run --fail-on-violation: the capture holds frames the policy would drop or redirect.
    static let violation = ExitStatus(rawValue: 3)
    /// status: nothing is applied in this pin directory.
    static let nothingApplied = ExitStatus(rawValue: 3)
    /// status: applied, but an interface lacks its hooks, is missing, or a redirect target is down.
    static let degraded = ExitStatus(rawValue: 4)
}

/// A failure already reported in the command's words; main only sets the status.
struct CommandFailure: Error {
    var status: ExitStatus
    var message: String
    /// The policy problems behind a policy failure, for `--json` callers.
    var diagnostics: [PolicyDiagnostic] = []
}
