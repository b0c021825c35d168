#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// A bounded first-in first-out queue from one thread to another. `put` waits while
/// it is full and `take` while it is empty; after `close`, `take` drains what is left
/// and then answers nil. The `try` forms never wait.
///
/// A pthread mutex and condition variable, for the reason `Locked` gives: the thread
/// sanitizer follows them, so what crosses here is seen as handed over, not raced on.
public final class Handoff<Element: Sendable>: @unchecked Sendable {
    private let mutex: UnsafeMutablePointer<pthread_mutex_t>
    /// Signalled on every put, take and close: one waiter on each side at most.
    private let changed: UnsafeMutablePointer<pthread_cond_t>
    private let capacity: Int
    private var items: [Element] = []
    private var closed = false

    public init(capacity: Int) {
        precondition(capacity > 0, "Handoff of capacity \(capacity)")
        self.capacity = capacity
        items.reserveCapacity(capacity)
        mutex = .allocate(capacity: 1)
        changed = .allocate(capacity: 1)
        // Default attributes: neither can fail on Linux.
        pthread_mutex_init(mutex, nil)
        pthread_cond_init(changed, nil)
    }

    deinit {
        pthread_cond_destroy(changed)
        pthread_mutex_destroy(mutex)
        changed.deallocate()
        mutex.deallocate()
    }

    /// Queues `element`, waiting for room.
    public func put(_ element: Element) {
        locked {
            precondition(!closed, "Handoff.put after close")
            while items.count == capacity { pthread_cond_wait(changed, mutex) }
            items.append(element)
            pthread_cond_broadcast(changed)
        }
    }

    /// Queues `element` when there is room now; else hands it back.
    public func tryPut(_ element: Element) -> Element? {
        locked {
            precondition(!closed, "Handoff.tryPut after close")
            guard items.count < capacity else { return element }
            items.append(element)
            pthread_cond_broadcast(changed)
            return nil
        }
    }

    /// The oldest element, waiting for one; nil once closed and empty.
    public func take() -> Element? {
        locked {
            while items.isEmpty, !closed { pthread_cond_wait(changed, mutex) }
            return removeFirst()
        }
    }

    /// The oldest element when there is one now.
    public func tryTake() -> Element? {
        locked { removeFirst() }
    }

    /// No more puts: `take` answers nil once the queue is drained.
    public func close() {
        locked {
            closed = true
            pthread_cond_broadcast(changed)
        }
    }

    /// Under the lock. The queue is a handful of elements: shifting them is cheaper than a ring's bookkeeping.
    private func removeFirst() -> Element? {
        guard !items.isEmpty else { return nil }
        pthread_cond_broadcast(changed)
        return items.removeFirst()
    }

    private func locked<Result>(_ body: () -> Result) -> Result {
        pthread_mutex_lock(mutex)
        defer { pthread_mutex_unlock(mutex) }
        return body()
    }
}
