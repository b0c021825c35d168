import FabricHost
import FabricNetlink

/// What the daemon needs of the host: a snapshot, and a stream of hints that
/// the snapshot changed. A hint only says "look again": the loop always
/// recomputes from a fresh snapshot, so a lost or duplicated hint costs at most
/// one resync interval, never a wrong state.
public protocol HostWatch: Sendable {
    /// Subscribes to changes. Called before the first `inventory()`, so that no
    /// change between the snapshot and the subscription goes unseen.
    func start() throws -> AsyncStream<HostChange>
    func inventory() throws -> HostInventory
    /// Ends the stream `start` returned.
    func stop()
}

/// The host of this network namespace over rtnetlink: the link and address
/// groups for hints, a dump for every snapshot.
public final class NetlinkHostWatch: HostWatch, @unchecked Sendable {
    // Set once by `start` (before any other thread sees it), then only read.
    private var monitor: NetlinkMonitor?

    public init() {}

    public func start() throws -> AsyncStream<HostChange> {
        let monitor = try NetlinkMonitor()
        self.monitor = monitor
        return monitor.changes()
    }

    public func inventory() throws -> HostInventory { try LiveHost().inventory() }

    public func stop() { monitor?.stop() }
}
