#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// A value behind a pthread mutex, with `Synchronization.Mutex`'s shape
/// (`withLock` lends the value `inout`; values cross in and out as `sending`).
///
/// Why not `Mutex` itself: on Linux its lock is a futex word driven from the
/// uninstrumented standard library, so the thread sanitizer sees none of its
/// ordering and reports the accesses it guards as races (a ten-line program
/// of two threads and one `Mutex` draws 2-7 reports every run; the daemon's
/// event hub failed CI's TSan step this way). pthread_mutex_lock is intercepted by the
/// sanitizer, so these locks are understood, and under it real races stand out.
public final class Locked<Value>: @unchecked Sendable {
    private let mutex: UnsafeMutablePointer<pthread_mutex_t>
    private var value: Value

    public init(_ value: sending Value) {
        self.value = value
        mutex = .allocate(capacity: 1)
        // A default mutex cannot fail to initialize on Linux (no attributes, no resources).
        pthread_mutex_init(mutex, nil)
    }

    deinit {
        pthread_mutex_destroy(mutex)
        mutex.deallocate()
    }

    /// Runs `body` with the value, holding the lock; `body` must not take it again.
    public func withLock<Result, E: Error>(_ body: (inout sending Value) throws(E) -> sending Result) throws(E) -> sending Result {
        pthread_mutex_lock(mutex)
        defer { pthread_mutex_unlock(mutex) }
        return try body(&value)
    }
}
