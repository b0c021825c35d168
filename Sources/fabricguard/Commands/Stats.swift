import ArgumentParser
import FabricAgent
import FabricCompiler

struct Stats: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Show counters per interface, direction, reason and action.",
        discussion: """
            Packets and bytes since the interface was first applied in --pin-dir,
            summed over CPUs. Audit mode shows up as would_drop / would_redirect.
            Then, per interface and reason, what became of the violations: sent as
            events, suppressed by the policy's `events:` rate limit, or lost to a full
            ring (each violation is exactly one of the three).
            --json prints {"counters": [{"interface", "direction", "reason", "action",
            "packets", "bytes"}], "events": [{"interface", "reason", "sent",
            "suppressed", "ring_full"}]}, the counters in the shape of `dry-run --json`.

            Examples:
              fabricguard stats
              fabricguard stats --json | jq '.counters[] | select(.action == "drop")'
            """
    )

    @OptionGroup var pins: PinOptions
    @OptionGroup var output: OutputOptions

    @Flag(name: .long, help: "Include counters that are zero.")
    var all = false

    func run() throws {
        let report: CounterReport
        do {
            report = try pins.agent().stats(includeZeros: all)
        } catch {
            throw error.failure
        }
        if output.json {
            try JSONOutput.print(report)
            return
        }
        let rows = report.counters.map {
            [$0.interface, $0.direction.rawValue, $0.reason.name, $0.action.name, String($0.packets), String($0.bytes)]
        }
        print(TextColumns.render(header: ["interface", "direction", "reason", "action", "packets", "bytes"], rows: rows, numericFrom: 4)
            .joined(separator: "\n"))
        let events = (report.events ?? []).map {
            [$0.interface, $0.reason.name, String($0.sent), String($0.suppressed), String($0.ringFull)]
        }
        guard !events.isEmpty else { return }
        print("")
        print(TextColumns.render(header: ["interface", "reason", "events", "suppressed", "ring full"], rows: events, numericFrom: 2)
            .joined(separator: "\n"))
    }
}
