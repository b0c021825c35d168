import Foundation

/// Whether the kernel tiers can run here, and whether they must.
///
/// They need root (CAP_BPF, CAP_NET_ADMIN) and iproute2. Elsewhere they skip
/// with a message saying how to enable them; with
/// FABRICGUARD_REQUIRE_KERNEL_TESTS=1 (CI) they run regardless, so a missing
/// privilege is a failure instead of a silent skip.
enum KernelGate {
    static let required = ProcessInfo.processInfo.environment["FABRICGUARD_REQUIRE_KERNEL_TESTS"] == "1"
    static let privileged = geteuid() == 0
    static let enabled = privileged || required
    static let skipMessage: Comment =
        "kernel tier skipped: needs root and iproute2 (run `sudo scripts/test`; CI sets FABRICGUARD_REQUIRE_KERNEL_TESTS=1 to require it)"
}

/// Runs a command to completion, capturing its output.
struct Command {
    struct Result {
        var status: Int32
        var output: String
    }

    static func run(_ arguments: [String]) throws -> Result {
        let child = try Child(arguments)
        let output = child.readOutput()
        return Result(status: child.wait(), output: output)
    }

    /// The package's executables sit next to the test bundle.
    static func built(_ name: String) -> String {
        URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent(name).path
    }
}

/// A network namespace with a name unique to this process and test, deleted on
/// `close()` whatever happened in between.
final class Namespace {
    let name: String
    private static let counter = Counter()

    init(_ purpose: String) throws {
        name = "fg-\(purpose)-\(getpid())-\(Namespace.counter.next())"
        let result = try Command.run(Namespace.serialized + ["ip", "netns", "add", name])
        guard result.status == 0 else { throw NamespaceError(message: "ip netns add \(name): \(result.output)") }
    }

    /// Runs a command inside the namespace (`ip netns exec`).
    func run(_ arguments: [String]) throws -> Command.Result {
        try Command.run(["ip", "netns", "exec", name] + arguments)
    }

    func close() {
        _ = try? Command.run(Namespace.serialized + ["ip", "netns", "del", name])
    }

    /// `ip netns add` and `del` racing each other fail with "Peer netns reference
    /// is invalid" in whichever lab is being built; scripts/lab holds this lock
    /// for its own, so these take it too.
    static let serialized = ["flock", "/run/fabricguard-lab.lock"]

    struct NamespaceError: Error, CustomStringConvertible {
        var message: String
        var description: String { message }
    }

    final class Counter: @unchecked Sendable {
        private var value = 0
        private let lock = NSLock()
        func next() -> Int {
            lock.lock()
            defer { lock.unlock() }
            value += 1
            return value
        }
    }
}

import Testing
