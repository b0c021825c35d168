internal import CSystemd

/// The systemd readiness protocol (sd_notify(3)): READY=1 only once the kernel
/// really enforces the policy, RELOADING=1 / READY=1 around a SIGHUP reload,
/// STATUS= for `systemctl status`, WATCHDOG=1 when the unit asks for it.
/// Outside systemd (no NOTIFY_SOCKET) every call is a no-op.
public struct Notifier: Sendable {
    public init() {}

    public func ready(status: String) { send("READY=1\nSTATUS=\(status)") }
    public func reloading() { send("RELOADING=1") }
    public func status(_ text: String) { send("STATUS=\(text)") }
    public func stopping() { send("STOPPING=1") }
    public func watchdog() { send("WATCHDOG=1") }

    /// The watchdog period the unit set (WatchdogSec=), if any: pings are due at half of it.
    public var watchdogInterval: Duration? {
        var microseconds: UInt64 = 0
        guard sd_watchdog_enabled(0, &microseconds) > 0, microseconds > 0 else { return nil }
        return .microseconds(Int64(microseconds))
    }

    private func send(_ state: String) { _ = sd_notify(0, state) }
}
