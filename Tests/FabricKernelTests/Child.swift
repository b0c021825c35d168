import Foundation
#if canImport(Glibc)
import Glibc
import FabricSystem
#endif

/// A child process started with posix_spawn and reaped with waitpid.
///
/// Foundation's Process lost exit notifications in these tiers (a script that
/// left a daemon running kept `waitUntilExit` blocked after the script had
/// gone), so the kernel tiers spawn directly. Two more things a test runner
/// gets wrong by default are set here: the child starts with an empty signal
/// mask (the runner blocks SIGINT, which tools then ignore), and the output
/// pipe is close-on-exec so no other child holds it open and delays EOF.
final class Child {
    enum Output {
        case capture
        case discard
        case file(String)
    }

    let pid: pid_t
    private static let spawning = NSLock()
    private var reader: Int32 = -1
    private var exitStatus: Int32?

    /// `environment` is added to (or overrides) this process's environment.
    init(_ arguments: [String], output: Output = .capture, environment: [String: String] = [:]) throws {
        // pipe2(O_CLOEXEC) is not imported: the lock keeps every spawn of ours
        // out of the window between pipe() and FD_CLOEXEC.
        Child.spawning.lock()
        defer { Child.spawning.unlock() }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        var pipeEnds: [Int32] = [-1, -1]
        switch output {
        case .capture:
            guard pipe(&pipeEnds) == 0 else { throw ChildError("pipe: errno \(errno)") }
            _ = fcntl(pipeEnds[0], F_SETFD, FD_CLOEXEC)
            _ = fcntl(pipeEnds[1], F_SETFD, FD_CLOEXEC)
            posix_spawn_file_actions_adddup2(&actions, pipeEnds[1], 1)
            posix_spawn_file_actions_adddup2(&actions, pipeEnds[1], 2)
        case .discard:
            posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0)
            posix_spawn_file_actions_adddup2(&actions, 1, 2)
        case .file(let path):
            posix_spawn_file_actions_addopen(&actions, 1, path, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
            posix_spawn_file_actions_adddup2(&actions, 1, 2)
        }

        let argv = arguments.map { strdup($0) } + [nil]
        defer { argv.forEach { free($0) } }
        var variables = ProcessInfo.processInfo.environment
        variables.merge(environment) { $1 }
        let envp = variables.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer { envp.forEach { free($0) } }
        var child: pid_t = 0
        let started = SpawnAttributes.withCleanSignals { attributes in
            posix_spawnp(&child, arguments[0], &actions, attributes, argv, envp)
        }
        if pipeEnds[1] >= 0 { close(pipeEnds[1]) }
        guard started == 0 else {
            if pipeEnds[0] >= 0 { close(pipeEnds[0]) }
            throw ChildError("spawn \(arguments[0]): \(String(cString: strerror(started)))")
        }
        pid = child
        reader = pipeEnds[0]
    }

    deinit {
        if reader >= 0 { close(reader) }
        if exitStatus == nil {
            kill(pid, SIGKILL)
            _ = wait()
        }
    }

    /// Everything the child wrote to stdout and stderr, up to EOF.
    func readOutput() -> String {
        guard reader >= 0 else { return "" }
        var data = [UInt8]()
        var buffer = [UInt8](repeating: 0, count: 65536)
        while true {
            let count = read(reader, &buffer, buffer.count)
            if count > 0 { data += buffer[0..<count] } else if count < 0 && errno == EINTR { continue } else { break }
        }
        close(reader)
        reader = -1
        return String(decoding: data, as: UTF8.self)
    }

    /// The exit status, or 128 + the signal that ended the child (as a shell reports it).
    @discardableResult
    func wait() -> Int32 {
        if let exitStatus { return exitStatus }
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
        let code = Child.decode(status)
        exitStatus = code
        return code
    }

    var isRunning: Bool {
        guard exitStatus == nil else { return false }
        var status: Int32 = 0
        guard waitpid(pid, &status, WNOHANG) == pid else { return true }
        exitStatus = Child.decode(status)
        return false
    }

    private static func decode(_ status: Int32) -> Int32 {
        status & 0x7f == 0 ? (status >> 8) & 0xff : 128 + (status & 0x7f)
    }

    func signal(_ signal: Int32) {
        if exitStatus == nil { kill(pid, signal) }
    }

    struct ChildError: Error, CustomStringConvertible {
        var description: String
        init(_ description: String) { self.description = description }
    }
}
