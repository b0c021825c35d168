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

struct Confirm: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Keep the policy an `apply --confirm` put in place (cancel its rollback).",
        discussion: """
            `apply --confirm DURATION` arms a rollback: unless this runs (with the same
            --pin-dir) before the deadline, the previously confirmed policy comes back,
            or everything is unloaded when there was none. `status` shows the deadline.

            Exit status: 0 confirmed, 3 nothing to confirm (never armed, or the
            rollback already ran: its runtime directory's rollback.log says when).

            Examples:
              sudo fabricguard apply --policy new.yaml --confirm 2m && ssh-still-works && sudo fabricguard confirm
            """
    )

    @OptionGroup var pins: PinOptions

    func run() throws {
        let lock = try pins.lockForWrite("confirm")
        defer { lock.release() }
        let runtime = pins.runtime
        guard let pending = runtime.pendingConfirmation() else {
            throw CommandFailure(
                status: .nothingApplied,
                message: "confirm: nothing to confirm in \(pins.pinDir) (no apply --confirm is pending; a rollback that already ran is in \(runtime.rollbackLog))")
        }
        if pending.helperPID > 0 { kill(pending.helperPID, SIGTERM) }
        runtime.clearConfirmation()
        do {
            try pins.agent().clearConfirmation()
        } catch {
            throw error.failure
        }
        print("confirmed: the policy applied in \(pins.pinDir) stays")
    }
}

/// `apply --confirm`'s timer, started detached (its own session) so that the
/// shell, process group or SSH session of the apply can die without taking
/// it along. Hidden: only `apply` starts it.
struct RollbackHelper: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "rollback-helper", abstract: "(internal) apply --confirm's rollback timer.", shouldDisplay: false)

    @Option(name: .long) var token: String
    @OptionGroup var pins: PinOptions

    func run() throws {
        let runtime = pins.runtime
        // Wait for the deadline; a confirmation (or a later apply --confirm) ends the wait.
        while let pending = runtime.pendingConfirmation(), pending.token == token {
            let left = pending.deadline - Date().timeIntervalSince1970
            if left <= 0 { break }
            usleep(UInt32(min(left, 0.2) * 1_000_000))
        }
        let lock = try pins.lockForWrite("rollback")
        defer { lock.release() }
        guard let pending = runtime.pendingConfirmation(), pending.token == token else { return }
        let agent = pins.agent()
        let message: String
        do {
            let host = try LiveHost().inventory()
            if let previous = pending.previousPolicy, FileManager.default.fileExists(atPath: runtime.rollbackPolicy) {
                let text = try TextFile.read(runtime.rollbackPolicy)
                let policy = try PolicyLoader.parse(yaml: text, file: previous)
                let report = try agent.apply(
                    policy: policy, host: host,
                    options: ApplyOptions(policyPath: previous, allowMissing: true, timestamp: ISO8601DateFormatter().string(from: Date())))
                try TextFile.write(text, to: runtime.appliedPolicy)
                message = "not confirmed in time: rolled back to \(previous) (generation \(report.generation), \(report.digest))"
            } else {
                _ = try agent.unload(interfaces: host.interfaces)
                unlink(runtime.appliedPolicy)
                message = "not confirmed in time: nothing was applied before, so everything was unloaded"
            }
        } catch {
            message = "not confirmed in time, and the rollback failed: \(error)"
        }
        runtime.clearConfirmation()
        let line = "\(ISO8601DateFormatter().string(from: Date())) \(message)\n"
        if let log = FileHandle(forWritingAtPath: runtime.rollbackLog) ?? {
            _ = FileManager.default.createFile(atPath: runtime.rollbackLog, contents: nil, attributes: [.posixPermissions: 0o600])
            return FileHandle(forWritingAtPath: runtime.rollbackLog)
        }() {
            log.seekToEndOfFile()
            log.write(Data(line.utf8))
        }
    }
}

/// `--confirm 90s`, `2m`, `1h` or plain seconds.
struct ConfirmWindow: ExpressibleByArgument {
    var seconds: Double

    init?(argument: String) {
        let units: [Character: Double] = ["s": 1, "m": 60, "h": 3600]
        let unit = argument.last.flatMap { units[$0] }
        guard let value = Double(unit == nil ? argument : String(argument.dropLast())), value > 0 else { return nil }
        seconds = value * (unit ?? 1)
    }
}

/// Starts `fabricguard rollback-helper` in a session of its own (setsid), its
/// output to /dev/null: nothing of the caller's terminal or session holds it.
func spawnRollbackHelper(token: String, pinDir: String, runtimeDir: String) throws -> Int32 {
    var actions = posix_spawn_file_actions_t()
    posix_spawn_file_actions_init(&actions)
    defer { posix_spawn_file_actions_destroy(&actions) }
    for descriptor: Int32 in [0, 1, 2] {
        posix_spawn_file_actions_addopen(&actions, descriptor, "/dev/null", descriptor == 0 ? O_RDONLY : O_WRONLY, 0)
    }
    var attributes = posix_spawnattr_t()
    posix_spawnattr_init(&attributes)
    defer { posix_spawnattr_destroy(&attributes) }
    var empty = sigset_t()
    sigemptyset(&empty)
    posix_spawnattr_setsigmask(&attributes, &empty)
    // POSIX_SPAWN_SETSID (glibc 2.26) is a macro Swift does not import: 0x80 in <spawn.h>.
    let setsid: Int32 = 0x80
    posix_spawnattr_setflags(&attributes, Int16(setsid | POSIX_SPAWN_SETSIGMASK))
    let executable = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
    let arguments = [executable, "rollback-helper", "--token", token, "--pin-dir", pinDir, "--runtime-dir", runtimeDir]
    let argv = arguments.map { strdup($0) } + [nil]
    defer { argv.forEach { free($0) } }
    var pid: pid_t = 0
    let result = posix_spawn(&pid, executable, &actions, &attributes, argv, environ)
    guard result == 0 else { throw SystemError(verb: "start", object: "the rollback helper", errno: result) }
    return pid
}
