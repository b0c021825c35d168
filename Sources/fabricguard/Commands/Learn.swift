import ArgumentParser
import FabricHost
import FabricNetlink
import FabricSystem
import Foundation

struct Learn: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Propose a policy from this host: fabrics from connected subnets, audit mode.",
        discussion: """
            Reads the interfaces, addresses and default routes (rtnetlink) and writes a
            policy: interfaces whose connected subnets are equal or nested form one
            fabric owning those subnets; interfaces with a default route are
            management; both directions in audit mode; DHCP, DAD and link-local
            exempt. A comment above each line names the fact of the host it came from.
            It passes `check` as written. Review the fabric names and prefixes.

            The workflow: learn -> check -> apply (audit: nothing is dropped) -> watch
            `stats` and `events` under real traffic -> set the modes to enforce ->
            `apply --confirm 2m` -> `confirm`.

            Examples:
              fabricguard learn
              fabricguard learn --out /etc/fabricguard/fabrics.yaml
            """
    )

    @Option(name: .long, help: ArgumentHelp("Write the policy here instead of stdout (an existing file is kept).", valueName: "file"))
    var out: String?

    func run() throws {
        let proposal: PolicyLearner.Proposal
        do {
            let host = try LiveHost().inventory()
            let names = Dictionary(host.interfaces.map { ($0.index, $0.name) }, uniquingKeysWith: { first, _ in first })
            let defaults = try LiveHost().routes().filter { $0.isDefault && $0.kind == .unicast && $0.table == Route.mainTable }
            proposal = try PolicyLearner.learn(host: host, defaultRoutes: Set(defaults.compactMap { $0.outputIfindex.flatMap { names[$0] } }))
        } catch let nothing as PolicyLearner.NothingToLearn {
            throw CommandFailure(status: .runtimeFailure, message: "learn: \(nothing)")
        } catch {
            throw CommandFailure(status: .runtimeFailure, message: "learn: read the host: \(error)")
        }
        guard let out else {
            print(proposal.yaml, terminator: "")
            return
        }
        guard !FileManager.default.fileExists(atPath: out) else {
            throw CommandFailure(status: .usageOrPolicy, message: "learn: \(out) exists; it is kept (remove it, or choose another --out)")
        }
        do {
            try TextFile.write(proposal.yaml, to: out)
        } catch {
            throw CommandFailure(status: .runtimeFailure, message: "learn: \(error)")
        }
        FileHandleOutput.standardError("learn: wrote \(out): \(proposal.fabrics) fabric\(proposal.fabrics == 1 ? "" : "s"), audit mode; next: fabricguard check --policy \(out)")
    }
}
