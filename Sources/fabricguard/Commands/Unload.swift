import ArgumentParser
import FabricAgent
import FabricHost
import FabricNetlink
import Foundation

#if canImport(Glibc)
import Glibc
#endif

struct Unload: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Detach every fabricguard program and remove the pins.",
        discussion: """
            Idempotent: with nothing applied it says so and succeeds. Programs of other
            tools on the same hooks are left alone. Refuses (exit 1) while `fabricguard
            run` owns the pin directory: stop the daemon (with --unload-on-exit it
            unloads itself).

            Example:
              sudo fabricguard unload --pin-dir /sys/fs/bpf/lab
            """
    )

    @OptionGroup var pins: PinOptions

    func run() throws {
        // No pin directory, no pins to guard: the scan for stray hooks needs no lock
        // (and taking one would make the directory it is about to report absent).
        let lock = FileManager.default.fileExists(atPath: pins.pinDir) ? try pins.lockForWrite("unload") : nil
        defer { lock?.release() }
        let interfaces = (try? LiveHost().inventory().interfaces) ?? []
        let found: Bool
        do {
            found = try pins.agent().unload(interfaces: interfaces)
        } catch {
            throw error.failure
        }
        // A pending `apply --confirm` would re-apply its policy at the deadline: unloading cancels it.
        let runtime = pins.runtime
        if let pending = runtime.pendingConfirmation(), pending.helperPID > 0 { kill(pending.helperPID, SIGTERM) }
        runtime.clearConfirmation()
        unlink(runtime.appliedPolicy)
        rmdir(runtime.path)
        print(found ? "unloaded: hooks detached and pins removed from \(pins.pinDir)" : "nothing to unload in \(pins.pinDir)")
    }
}
