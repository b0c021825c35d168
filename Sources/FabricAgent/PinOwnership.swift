import FabricBPF
import FabricSystem

#if canImport(Glibc)
import Glibc
#endif

/// Where an instance keeps what is not kernel state: the daemon's pid file
/// (and the events socket). One per pin directory, so that `--pin-dir DIR`
/// finds the daemon of DIR: /run/fabricguard/ plus the pin directory's name,
/// unless the caller names another.
public struct RuntimeDirectory: Sendable, Equatable {
    public static let base = "/run/fabricguard"

    public let path: String

    public init(pinDirectory: String, override: String? = nil) {
        let name = pinDirectory.split(separator: "/").last.map(String.init) ?? "fabricguard"
        path = override ?? "\(RuntimeDirectory.base)/\(name)"
    }

    public var daemonPIDFile: String { "\(path)/daemon.pid" }
    /// Where the daemon serves violation events (mode 0600).
    public var eventsSocket: String { "\(path)/events.sock" }
}

/// One writer per pin directory: `run` holds an exclusive flock on it for its
/// lifetime, `apply` and `unload` while they write. Without it two applies
/// interleave (both activate "generation N", the programs of one read the
/// maps of the other) and an apply during `run` is undone by the daemon's
/// next resync.
public enum PinOwnership {
    /// Why the pin directory could not be had.
    public struct Busy: Error, CustomStringConvertible, Equatable {
        public var message: String
        public var description: String { message }
    }

    /// Makes `pinDirectory` and its parents (mode 0700), mounting bpffs first
    /// when it is not (as bpftool does); returns what to tell the user then.
    public static func makePinDirectory(_ pinDirectory: String) throws(SystemError) -> String? {
        let notice = try BPFFilesystem.prepare(pinDirectory)
        try PrivateDirectory.make(pinDirectory)
        return notice
    }

    /// For the daemon: the lock now, or `Busy` naming the holder. The caller
    /// keeps the returned lock for its lifetime and writes its pid file.
    public static func lockForDaemon(pinDirectory: String) throws -> DirectoryLock {
        if let lock = try DirectoryLock.acquire(pinDirectory, wait: false) { return lock }
        let holder = DirectoryLock.holder(of: pinDirectory).map { "pid \($0)" } ?? "another process"
        throw Busy(message: "run: \(pinDirectory) is owned by \(holder); one fabricguard run (or apply) per pin directory")
    }

    /// For a one-shot writer (`apply`, `unload`): waits for another one-shot
    /// writer to finish, but refuses while a daemon owns the directory, since
    /// the daemon would undo the change on its next resync.
    public static func lockForWrite(pinDirectory: String, runtime: RuntimeDirectory, verb: String) throws -> DirectoryLock {
        while true {
            if let lock = try DirectoryLock.acquire(pinDirectory, wait: false) { return lock }
            if let daemon = daemonPID(pinDirectory: pinDirectory, runtime: runtime) {
                throw Busy(message: verb == "apply"
                    ? "apply: fabricguard run (pid \(daemon)) owns \(pinDirectory); edit its policy file and send it SIGHUP (systemctl reload fabricguard, or kill -HUP \(daemon))"
                    : "\(verb): fabricguard run (pid \(daemon)) owns \(pinDirectory); stop it first (it unloads with --unload-on-exit)")
            }
            // Another apply: wait for it, then look again (it may have been a daemon starting).
            if let lock = try DirectoryLock.acquire(pinDirectory, wait: true) {
                if daemonPID(pinDirectory: pinDirectory, runtime: runtime) == nil { return lock }
                lock.release()
            }
        }
    }

    /// The pid of the daemon owning `pinDirectory`: the lock holder, when it is
    /// the pid the runtime directory names, or when its command line is a
    /// `run` (a daemon started with another --runtime-dir); an apply holds the
    /// lock briefly too, and is neither.
    public static func daemonPID(pinDirectory: String, runtime: RuntimeDirectory) -> Int32? {
        guard let holder = DirectoryLock.holder(of: pinDirectory) else { return nil }
        if let text = try? TextFile.read(runtime.daemonPIDFile, maximumSize: 64), Int32(text.trimmingWhitespace) == holder {
            return holder
        }
        let arguments = (try? TextFile.read("/proc/\(holder)/cmdline", maximumSize: 1 << 16))?.split(separator: "\0") ?? []
        return arguments.count > 1 && arguments[1] == "run" ? holder : nil
    }

    /// Writes the daemon's pid file (and its directory, mode 0700).
    public static func writeDaemonPID(_ runtime: RuntimeDirectory) throws(SystemError) {
        try PrivateDirectory.make(runtime.path)
        let file = runtime.daemonPIDFile
        let descriptor = try SystemError.retrying("create", file) { open(file, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600) }
        defer { close(descriptor) }
        let text = Array("\(getpid())\n".utf8)
        guard write(descriptor, text, text.count) == text.count else {
            throw SystemError(verb: "write", object: file, errno: SystemError.lastErrno)
        }
    }

    public static func removeDaemonPID(_ runtime: RuntimeDirectory) {
        unlink(runtime.daemonPIDFile)
        rmdir(runtime.path)
    }
}

extension String {
    fileprivate var trimmingWhitespace: String {
        String(drop { $0.isWhitespace }.reversed().drop { $0.isWhitespace }.reversed())
    }
}
