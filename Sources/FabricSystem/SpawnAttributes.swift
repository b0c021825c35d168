#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// posix_spawn attributes that start a child with no signal blocked and the signals a
/// test runner may have blocked or ignored back at their defaults.
///
/// Why: a child inherits its parent's signal mask and ignored signals, and `swift test`
/// runs with SIGINT blocked, so a child told to stop with SIGINT would never see it.
public enum SpawnAttributes {
    /// Calls `body` with the attributes, valid only inside it. With `newProcessGroup` the
    /// child leads a group of its own, so that one kill(-pid) reaches what it starts too.
    public static func withCleanSignals<Result>(
        newProcessGroup: Bool = false, _ body: (UnsafePointer<posix_spawnattr_t>) throws -> Result
    ) rethrows -> Result {
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var empty = sigset_t(), defaults = sigset_t()
        sigemptyset(&empty)
        sigemptyset(&defaults)
        for signal in [SIGINT, SIGTERM, SIGPIPE, SIGCHLD] { sigaddset(&defaults, signal) }
        posix_spawnattr_setsigmask(&attributes, &empty)
        posix_spawnattr_setsigdefault(&attributes, &defaults)
        if newProcessGroup { posix_spawnattr_setpgroup(&attributes, 0) }
        posix_spawnattr_setflags(
            &attributes, Int16(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF | (newProcessGroup ? POSIX_SPAWN_SETPGROUP : 0)))
        return try body(&attributes)
    }
}
