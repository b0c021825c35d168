import FabricHost

/// What the daemon needs of the host: a snapshot, and a stream of hints that
/// the snapshot changed. A hint only says "look again": the loop always
/// recomputes from a fresh snapshot, so a lost or duplicated hint costs at most
/// one resync interval, never a wrong state.
public protocol HostWatch: Sendable {
    /// Subscribes to changes. Called before the first `inventory()`, so that no
    /// change between the snapshot and the subscription goes unseen.
    func start() throws -> AsyncStream<HostSignal>
    func inventory() throws -> HostInventory
    /// Ends the stream `start` returned.
    func stop()
}

public struct HostSignal: Sendable, Equatable {
    public enum Kind: String, Sendable {
        case link, address
        /// The kernel dropped notifications (ENOBUFS): only a full resync is safe.
        case overflow
    }

    public var kind: Kind
    /// When the notification was read: the start of the event -> enforced latency.
    public var received: ContinuousClock.Instant

    public init(kind: Kind, received: ContinuousClock.Instant) {
        self.kind = kind
        self.received = received
    }
}
