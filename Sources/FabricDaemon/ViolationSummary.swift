import FabricEvents
import FabricSystem
import Logging

/// The daemon's log of violations: per interface and reason, at most one line
/// per interval, with how many events were sampled and the most frequent
/// source -> destination among them. A flood is one line every ten seconds,
/// not a line per packet.
final class ViolationSummary: Sendable {
    private struct Key: Hashable {
        var interface: String
        var fabric: String?
        var reason: String
        var action: String
        var direction: String
    }

    private struct State {
        var pending: [Key: [String: Int]] = [:]
        var lastFlush = ContinuousClock.now
    }

    private let state = Locked(State())
    private let interval: Duration
    private let logger: Logger

    init(interval: Duration, logger: Logger) {
        self.interval = interval
        self.logger = logger
    }

    func add(_ event: ViolationEvent) {
        let key = Key(interface: event.interface, fabric: event.fabric, reason: event.reason, action: event.action, direction: event.direction)
        let pair = "\(event.src ?? "?") -> \(event.dst ?? "?")"
        state.withLock { $0.pending[key, default: [:]][pair, default: 0] += 1 }
    }

    /// Logs what gathered when the interval has passed since the last lines.
    func flushIfDue(now: ContinuousClock.Instant = .now) {
        let due = state.withLock { state -> [Key: [String: Int]] in
            guard !state.pending.isEmpty, now - state.lastFlush >= interval else { return [:] }
            defer {
                state.pending = [:]
                state.lastFlush = now
            }
            return state.pending
        }
        for (key, pairs) in due.sorted(by: { ($0.key.interface, $0.key.reason) < ($1.key.interface, $1.key.reason) }) {
            let top = pairs.max { ($0.value, $1.key) < ($1.value, $0.key) }!
            logger.warning("violations", metadata: [
                "interface": "\(key.interface)", "fabric": "\(key.fabric ?? "-")", "direction": "\(key.direction)",
                "reason": "\(key.reason)", "action": "\(key.action)", "events": "\(pairs.values.reduce(0, +))",
                "top": "\(top.key) (\(top.value))",
            ])
        }
    }
}
