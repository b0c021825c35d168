import ArgumentParser
import FabricAgent
import FabricHost

struct Unload: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Detach every fabricguard program and remove the pins.",
        discussion: """
            Idempotent: with nothing applied it says so and succeeds. Programs of other
            tools on the same hooks are left alone.

            Example:
              sudo fabricguard unload --pin-dir /sys/fs/bpf/lab
            """
    )

    @OptionGroup var pins: PinOptions

    func run() throws {
        let interfaces = (try? LiveHost().inventory().interfaces) ?? []
        let found: Bool
        do {
            found = try pins.agent().unload(interfaces: interfaces)
        } catch {
            throw error.failure
        }
        print(found ? "unloaded: hooks detached and pins removed from \(pins.pinDir)" : "nothing to unload in \(pins.pinDir)")
    }
}
