import FabricNetlink
import FabricSystem

/// Why the loop should look again, accumulated until it does. Every producer
/// (host signals, SIGHUP, the resync timer, a retry after a failure) only adds
/// to this set and wakes the loop; the loop takes the whole set at once, so a
/// burst of events costs one reconcile, and an event that arrives during a
/// reconcile costs exactly one more.
struct Pending: Sendable, Equatable {
    var hostSignals = 0
    var kinds: Set<HostChange.Kind> = []
    /// The oldest signal not yet enforced: event -> enforced latency is measured from it.
    var oldest: ContinuousClock.Instant?
    var reload = false
    var resync = false
    var retry = false

    var isEmpty: Bool { self == Pending() }
}

final class Triggers: Sendable {
    private let pending = Locked(Pending())
    private let wakeups: AsyncStream<Void>
    private let continuation: AsyncStream<Void>.Continuation

    init() {
        // One buffered wake-up is enough: the loop drains everything when it wakes.
        (wakeups, continuation) = AsyncStream.makeStream(bufferingPolicy: .bufferingNewest(1))
    }

    func post(_ change: (inout Pending) -> Void) {
        pending.withLock { change(&$0) }
        continuation.yield()
    }

    func host(_ signal: HostChange) {
        post {
            $0.hostSignals += 1
            $0.kinds.insert(signal.kind)
            if $0.oldest == nil || signal.received < $0.oldest! { $0.oldest = signal.received }
        }
    }

    /// Everything posted since the last call.
    func take() -> Pending {
        pending.withLock { state in
            defer { state = Pending() }
            return state
        }
    }

    /// Wake-ups until `finish`.
    var stream: AsyncStream<Void> { wakeups }

    func finish() { continuation.finish() }
}
