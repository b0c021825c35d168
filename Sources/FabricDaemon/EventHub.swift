import FabricBPF
import FabricEvents
import FabricSystem
import Foundation
import Logging

/// Someone who wants every event line: an `events` client on the socket.
public protocol EventSubscriber: AnyObject, Sendable {
    /// Takes JSON lines (one or more events) without waiting; false when the
    /// subscriber cannot take them now (a slow reader): they are dropped for it alone.
    func offer(_ lines: [UInt8]) -> Bool
}

/// Where the hub reads raw events: the pinned ring (`EventRing`) in the daemon.
public protocol RawEventSource: AnyObject {
    func poll(timeoutMilliseconds: Int32) throws -> [RawEvent]
}

extension EventRing: RawEventSource {}

/// The one consumer of the ring while the daemon runs. A thread of its own
/// polls it (a blocking poll must not hold one of the cooperative pool's few
/// threads), describes each event once and offers the line to every
/// subscriber; a subscriber that cannot keep up loses lines, counted, and
/// never slows the others or the ring.
public final class EventHub: Sendable {
    private struct State {
        var subscribers: [ObjectIdentifier: any EventSubscriber] = [:]
        var describer: EventDescriber
        var describedGeneration: UInt64?
        var delivered: UInt64 = 0
        var dropped: UInt64 = 0
        var received: UInt64 = 0
        var running = false
        var stopped = false
    }

    private let state: Locked<State>
    private let finished = DispatchSemaphore(value: 0)
    private let logger: Logger
    /// Names for a new generation: interfaces and policy change only with one.
    private let describe: @Sendable () -> EventDescriber?
    let summary: ViolationSummary

    public init(logger: Logger, summaryInterval: Duration = .seconds(10), describer: @escaping @Sendable () -> EventDescriber?) {
        self.logger = logger
        self.describe = describer
        self.summary = ViolationSummary(interval: summaryInterval, logger: logger)
        state = Locked(State(describer: describer() ?? EventDescriber(record: nil, host: [], policy: nil)))
    }

    public struct Counts: Sendable, Equatable {
        public var received: UInt64
        public var delivered: UInt64
        /// Lines a slow subscriber could not take.
        public var dropped: UInt64
        public var subscribers: Int
    }

    public var counts: Counts {
        state.withLock { Counts(received: $0.received, delivered: $0.delivered, dropped: $0.dropped, subscribers: $0.subscribers.count) }
    }

    public func subscribe(_ subscriber: any EventSubscriber) {
        state.withLock { $0.subscribers[ObjectIdentifier(subscriber)] = subscriber }
    }

    public func unsubscribe(_ subscriber: any EventSubscriber) {
        state.withLock { _ = $0.subscribers.removeValue(forKey: ObjectIdentifier(subscriber)) }
    }

    /// Starts the polling thread over `source` (which it then owns).
    public func start(source: any RawEventSource) {
        let box = SourceBox(source)
        state.withLock { $0.running = true }
        let thread = Thread { [self] in
            self.pump(box.source)
            self.finished.signal()
        }
        thread.name = "fabricguard-events"
        thread.start()
    }

    /// Stops the thread (within one poll interval) and waits for it.
    public func stop() {
        let wasRunning = state.withLock { state in
            defer { state.stopped = true }
            return state.running && !state.stopped
        }
        if wasRunning { finished.wait() }
    }

    static let pollMilliseconds: Int32 = 200

    private func pump(_ source: any RawEventSource) {
        while !state.withLock({ $0.stopped }) {
            let raw: [RawEvent]
            do {
                raw = try source.poll(timeoutMilliseconds: Self.pollMilliseconds)
            } catch {
                logger.error("reading the events ring failed; events stop", metadata: ["error": "\(error)"])
                return
            }
            if !raw.isEmpty { publish(raw) }
            summary.flushIfDue()
        }
    }

    /// Describes one poll's events and offers them to each subscriber as one
    /// write: a cross-thread write per event would cost more than the event.
    func publish(_ batch: [RawEvent]) {
        // Names are read again when the generation moves (the host or the policy changed).
        let latest = batch.last!.generation
        let stale = state.withLock { $0.describedGeneration != latest }
        let fresh = stale ? describe() : nil
        let (events, subscribers) = state.withLock { state -> ([ViolationEvent], [any EventSubscriber]) in
            if stale {
                if let fresh { state.describer = fresh }
                state.describedGeneration = latest
            }
            state.received += UInt64(batch.count)
            return (batch.map(state.describer.describe), Array(state.subscribers.values))
        }
        for event in events { summary.add(event) }
        guard !subscribers.isEmpty else { return }
        var lines: [UInt8] = []
        for event in events { lines += event.jsonLine() }
        var delivered: UInt64 = 0, dropped: UInt64 = 0
        for subscriber in subscribers {
            if subscriber.offer(lines) {
                delivered += UInt64(events.count)
            } else {
                dropped += UInt64(events.count)
            }
        }
        state.withLock {
            $0.delivered += delivered
            $0.dropped += dropped
        }
    }
}

/// Hands a non-Sendable source to the one thread that uses it.
private final class SourceBox: @unchecked Sendable {
    let source: any RawEventSource
    init(_ source: any RawEventSource) { self.source = source }
}
