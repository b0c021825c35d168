import Foundation

/// A multi-homed host and its fabric peer, each in its own network namespace,
/// joined by one veth pair per fabric, with its own pin directory. Names are
/// unique per process and lab; `close()` removes everything even after a failure.
///
///   host namespace            peer namespace
///   sana0 10.1.0.10/24  <->   pa 10.1.0.1/24
///   sanb0 10.2.0.10/24  <->   pb 10.2.0.1/24
///   mgmt0 192.168.0.10  <->   pm 192.168.0.1
final class Lab {
    let host: Namespace
    let peer: Namespace
    let pinDir: String
    let directory: URL

    static let policy = """
        version: 1
        fabrics:
          - { name: san-a, interfaces: [sana0], prefixes: [10.1.0.0/24, "fd00:a::/64"] }
          - { name: san-b, interfaces: [sanb0], prefixes: [10.2.0.0/24, "fd00:b::/64"] }
        exempt: [0.0.0.0/32, "::/128", "fe80::/10"]
        management: [mgmt0]

        """

    init(_ name: String) throws {
        host = try Namespace("\(name)h")
        peer = try Namespace("\(name)p")
        pinDir = "/sys/fs/bpf/\(host.name)"
        directory = FileManager.default.temporaryDirectory.appendingPathComponent(host.name)
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let links = [("sana0", "pa", "10.1.0.10/24", "10.1.0.1/24"), ("sanb0", "pb", "10.2.0.10/24", "10.2.0.1/24"),
                     ("mgmt0", "pm", "192.168.0.10/24", "192.168.0.1/24")]
        try must(["ip", "-n", host.name, "link", "set", "lo", "up"])
        try must(["ip", "-n", peer.name, "link", "set", "lo", "up"])
        for (inside, outside, hostAddress, peerAddress) in links {
            try must(["ip", "link", "add", inside, "netns", host.name, "type", "veth", "peer", "name", outside, "netns", peer.name])
            try must(["ip", "-n", host.name, "addr", "add", hostAddress, "dev", inside])
            try must(["ip", "-n", peer.name, "addr", "add", peerAddress, "dev", outside])
            try must(["ip", "-n", host.name, "link", "set", inside, "up"])
            try must(["ip", "-n", peer.name, "link", "set", outside, "up"])
        }
    }

    func must(_ arguments: [String]) throws {
        let result = try Command.run(arguments)
        guard result.status == 0 else { throw Namespace.NamespaceError(message: "\(arguments.joined(separator: " ")): \(result.output)") }
    }

    func write(_ name: String, _ text: String) throws -> String {
        let url = directory.appendingPathComponent(name)
        try text.write(to: url, atomically: true, encoding: .utf8)
        return url.path
    }

    /// fabricguard on the lab host: `nsenter --net` keeps the global /sys/fs/bpf
    /// (where `ip netns exec` would remount /sys and lose it).
    func fabricguard(_ arguments: String...) throws -> Command.Result {
        try Command.run(["nsenter", "--net=/run/netns/\(host.name)", Command.built("fabricguard")] + arguments + ["--pin-dir", pinDir])
    }

    /// fabricguard on the lab host for verbs that touch no pins (check, explain, dry-run).
    func offline(_ arguments: [String]) throws -> Command.Result {
        try Command.run(["nsenter", "--net=/run/netns/\(host.name)", Command.built("fabricguard")] + arguments)
    }

    func json(_ arguments: String...) throws -> [String: Any] {
        let pinned = ["apply", "status", "stats", "unload"].contains(arguments.first ?? "")
        let result = try Command.run(
            ["nsenter", "--net=/run/netns/\(host.name)", Command.built("fabricguard")] + arguments
                + (pinned ? ["--pin-dir", pinDir] : []) + ["--json"])
        guard result.status == 0, let object = try JSONSerialization.jsonObject(with: Data(result.output.utf8)) as? [String: Any] else {
            throw Namespace.NamespaceError(message: "fabricguard \(arguments.joined(separator: " ")) failed: \(result.output)")
        }
        return object
    }

    /// Sends `count` UDP datagrams from `source` (a host address) to `destination`
    /// (a peer address) and returns how many the peer received.
    func udp(from source: String, to destination: String, port: Int, count: Int = 3) throws -> Int {
        let probe = Lab.script("udp-probe")
        let receiver = Process()
        receiver.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        receiver.arguments = ["ip", "netns", "exec", peer.name, probe, "receive", "--on", destination, "--port", "\(port)",
                              "--timeout", "1", "--expect", "\(count)"]
        let pipe = Pipe()
        receiver.standardOutput = pipe
        try receiver.run()
        // Poll until the receiver's socket is bound rather than sleeping a guess.
        let deadline = Date().addingTimeInterval(10)
        while try Command.run(["ip", "netns", "exec", peer.name, "ss", "-Huln", "sport = :\(port)"]).output.isEmpty {
            guard Date() < deadline else { throw Namespace.NamespaceError(message: "udp receiver on port \(port) never bound") }
            usleep(20_000)
        }
        _ = try host.run([probe, "send", "--from", source, "--to", destination, "--port", "\(port)", "--count", "\(count)"])
        let output = pipe.fileHandleForReading.readDataToEndOfFile()
        receiver.waitUntilExit()
        let report = try JSONSerialization.jsonObject(with: output) as? [String: Any]
        return report?["received"] as? Int ?? -1
    }

    static func script(_ name: String) -> String {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("scripts/\(name)").path
    }

    func close() {
        _ = try? fabricguard("unload")
        host.close()
        peer.close()
        _ = try? Command.run(["rm", "-rf", pinDir, directory.path])
    }
}
