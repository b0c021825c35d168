import Foundation
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// `fabricguard run` in a lab's host namespace, as an operator starts it
/// (`nsenter --net`, so the global bpffs stays visible), with the lab's pin
/// directory (so its runtime directory is /run/fabricguard/fg-NAME, which
/// `scripts/lab down` removes with the lab). Its log goes to a file the test
/// can read.
final class DaemonProcess {
    let lab: Lab
    let child: Child
    let logPath: String

    init(_ lab: Lab, policy: String, arguments: [String] = [], environment: [String: String] = [:]) throws {
        self.lab = lab
        logPath = lab.directory.appendingPathComponent("daemon-\(UUID().uuidString.prefix(8)).log").path
        child = try Child(
            lab.agentCommand(["run", "--policy", policy, "--pin-dir", lab.pinDir] + arguments),
            output: .file(logPath), environment: environment)
    }

    deinit { stop(SIGKILL) }

    var pid: Int32 { child.pid }
    var isRunning: Bool { child.isRunning }
    var log: String { (try? String(contentsOfFile: logPath, encoding: .utf8)) ?? "" }

    /// Until `status` names this process as the pin directory's daemon with a
    /// generation applied; fails early if the daemon exits.
    func waitUntilEnforcing(seconds: Double = 20) throws {
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline {
            guard child.isRunning else {
                throw Namespace.NamespaceError(message: "fabricguard run exited \(child.wait()): \(log)")
            }
            let status = try lab.status()
            if status["daemon_pid"] as? Int == Int(pid), (status["generation"] as? Int ?? 0) >= 1 { return }
            usleep(10_000)
        }
        throw Namespace.NamespaceError(message: "fabricguard run did not start enforcing in \(seconds) s: \(log)")
    }

    /// Sends `signal` and waits for the exit status (128 + signal when it killed).
    @discardableResult
    func stop(_ signal: Int32 = SIGTERM) -> Int32 {
        child.signal(signal)
        return child.wait()
    }

    /// The daemon's resident memory, from /proc.
    func residentKilobytes() throws -> Int {
        let status = try String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8)
        let line = status.split(separator: "\n").first { $0.hasPrefix("VmRSS:") } ?? ""
        return try #require(Int(line.split(separator: " ", omittingEmptySubsequences: true).dropFirst().first ?? ""), "\(line)")
    }
}
