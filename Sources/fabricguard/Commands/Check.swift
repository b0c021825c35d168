import ArgumentParser
import FabricCompiler
import FabricHost
import FabricPolicy

struct Check: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Validate a policy against this host (or an inventory file) and print the compiled plan.",
        discussion: """
            Needs no privileges and changes nothing. Every problem in the policy is
            reported at once, each as file:line:column: field: message. Warnings
            (an interface down, an address no fabric owns) do not fail the check.

            Examples:
              fabricguard check --policy /etc/fabricguard/fabrics.yaml
              fabricguard check --policy fabrics.yaml --host array-01.json --full
              fabricguard check --policy fabrics.yaml --json | jq .digest

            Exit status: 0 valid, 2 invalid (or bad arguments), 1 the host could not be read.
            """
    )

    @OptionGroup var source: PolicyOptions
    @OptionGroup var output: OutputOptions

    @Flag(name: .long, help: "List every map entry (the text output shows the first \(PlanText.defaultLimit) per map).")
    var full = false

    func run() throws {
        let policy: Policy
        let host: HostInventory
        let compilation: Compilation
        do {
            (policy, host, compilation) = try source.compile()
        } catch {
            if output.json {
                try JSONOutput.print(CheckReport(policy: source.policy, valid: false, errors: error.diagnostics))
                throw CommandFailure(status: error.status, message: error.diagnostics.isEmpty ? error.message : "")
            }
            throw error
        }
        if output.json {
            try JSONOutput.print(
                CheckReport(
                    policy: source.policy, valid: true, digest: compilation.plan.digestText, plan: compilation.plan,
                    warnings: compilation.warnings))
        } else {
            print(PlanText.render(policy: policy, host: host, compilation: compilation, limit: full ? nil : PlanText.defaultLimit))
        }
    }
}

struct CheckReport: Encodable {
    var policy: String
    var valid: Bool
    var digest: String?
    var plan: MapPlan?
    var warnings: [PolicyDiagnostic] = []
    var errors: [PolicyDiagnostic] = []
}
