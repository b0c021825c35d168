import Foundation
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// The two-fabric lab of `scripts/lab` (the one the demo and the benchmarks
/// use): a multi-homed host, a bridge namespace per fabric and an array with a
/// portal on each. The script owns the topology and addressing and reports
/// them as JSON; this class runs the agent and the probes in it. Names are
/// unique per process and lab; `close()` removes everything even after a failure.
final class Lab {
    enum Variant: String {
        case airGapped = "air-gapped"
        case sharedSubnet = "shared-subnet"
    }

    /// Where a command runs: the lab's namespaces.
    enum Role {
        case host, fabricA, fabricB, array
    }

    struct Addresses {
        var ipv4: String
        var ipv6: String
        var mac: String
    }

    let name: String
    let variant: Variant
    let pinDir: String
    let directory: URL
    private let namespaces: [Role: String]
    /// The host's addresses by interface (sana0, sanb0, mgmt0).
    let host: [String: Addresses]
    /// The array's addresses by port (porta, portb, mgmt).
    let array: [String: Addresses]

    private static let counter = Namespace.Counter()

    /// `ipv4Only`: IPv6 off before any link comes up, so no router solicitation
    /// or MLD report ever crosses a fabric (tests that compare counters exactly).
    init(_ purpose: String, variant: Variant = .airGapped, ipv4Only: Bool = false) throws {
        name = "\(purpose)\(getpid())x\(Lab.counter.next())"
        self.variant = variant
        let result = try Command.run([Lab.script("lab"), "up", "--variant", variant.rawValue, "--name", name, "--json"] + (ipv4Only ? ["--ipv4-only"] : []))
        guard result.status == 0, let description = try? JSONSerialization.jsonObject(with: Data(result.output.utf8)) as? [String: Any]
        else { throw Namespace.NamespaceError(message: "scripts/lab up \(name): \(result.output)") }
        let spaces = description["namespaces"] as? [String: String] ?? [:]
        namespaces = [.host: spaces["host"] ?? "", .fabricA: spaces["fabric_a"] ?? "",
                      .fabricB: spaces["fabric_b"] ?? "", .array: spaces["array"] ?? ""]
        func addresses(_ key: String) -> [String: Addresses] {
            (description[key] as? [String: [String: String]] ?? [:]).mapValues { Addresses(ipv4: $0["ipv4"] ?? "", ipv6: $0["ipv6"] ?? "", mac: $0["mac"] ?? "") }
        }
        host = addresses("host")
        array = addresses("array")
        pinDir = description["pin_dir"] as? String ?? ""
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("fg-\(name)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    }

    func namespace(_ role: Role) -> String { namespaces[role]! }

    /// Runs a command inside one of the lab's namespaces (`ip netns exec`).
    @discardableResult
    func run(_ role: Role, _ arguments: [String]) throws -> Command.Result {
        try Command.run(["ip", "netns", "exec", namespace(role)] + arguments)
    }

    func must(_ role: Role, _ arguments: [String]) throws {
        let result = try run(role, arguments)
        guard result.status == 0 else { throw Namespace.NamespaceError(message: "\(arguments.joined(separator: " ")): \(result.output)") }
    }

    func write(_ file: String, _ text: String) throws -> String {
        let url = directory.appendingPathComponent(file)
        try text.write(to: url, atomically: true, encoding: .utf8)
        return url.path
    }

    /// The lab's policy (`scripts/lab policy`), written to `file`.
    func policy(_ file: String, mode: String = "enforce", action: String = "drop", extraPrefix: String? = nil) throws -> String {
        var arguments = [Lab.script("lab"), "policy", name, "--mode", mode, "--action", action]
        if let extraPrefix { arguments += ["--extra-prefix", extraPrefix] }
        let result = try Command.run(arguments)
        guard result.status == 0 else { throw Namespace.NamespaceError(message: "scripts/lab policy: \(result.output)") }
        return try write(file, result.output)
    }

    /// The route mistake of `scripts/lab misroute`: SAN-B-sourced traffic for
    /// the array's SAN-B portal leaves through sana0.
    func misroute(undo: Bool = false) throws {
        let result = try Command.run([Lab.script("lab"), "misroute", name] + (undo ? ["--undo"] : []))
        guard result.status == 0 else { throw Namespace.NamespaceError(message: "scripts/lab misroute: \(result.output)") }
    }

    /// fabricguard on the lab host: `nsenter --net` keeps the global /sys/fs/bpf
    /// (where `ip netns exec` would remount /sys and lose it).
    func fabricguard(_ arguments: String...) throws -> Command.Result {
        try fabricguard(arguments)
    }

    func fabricguard(_ arguments: [String]) throws -> Command.Result {
        try Command.run(agentCommand(arguments))
    }

    /// `apply` and `run` attach XDP unless a test names its hook: the lab's links are veths,
    /// where `--ingress-hook auto` picks tc ingress, and veths are the only place the XDP
    /// program meets real traffic here (a NIC with native XDP gets it under auto).
    func agentCommand(_ arguments: [String]) -> [String] {
        let pinned = ["apply", "status", "stats", "unload"].contains(arguments.first ?? "") && !arguments.contains("--pin-dir")
        let hook = ["apply", "run"].contains(arguments.first ?? "") && !arguments.contains("--ingress-hook")
        return hostCommand(
            [Command.built("fabricguard")] + arguments + (pinned ? ["--pin-dir", pinDir] : []) + (hook ? ["--ingress-hook", "xdp"] : []))
    }

    /// `status --json`, whatever its exit status says of health (0, 3 or 4).
    func status() throws -> [String: Any] {
        let result = try Command.run(agentCommand(["status", "--json"]))
        guard [0, 3, 4].contains(result.status),
              let object = try JSONSerialization.jsonObject(with: Data(result.output.utf8)) as? [String: Any]
        else { throw Namespace.NamespaceError(message: "fabricguard status failed (\(result.status)): \(result.output)") }
        return object
    }

    /// Polls `status --json` until `condition` holds; fails after `seconds`.
    func waitForStatus(_ what: String, seconds: Double = 10, _ condition: ([String: Any]) throws -> Bool) throws {
        let deadline = Date().addingTimeInterval(seconds)
        var last: [String: Any] = [:]
        while Date() < deadline {
            last = try status()
            if try condition(last) { return }
            usleep(5_000)
        }
        throw Namespace.NamespaceError(message: "waited \(seconds) s for \(what); last status: \(last)")
    }

    /// How many hooks `status` shows on `name` at `ifindex`.
    func hooks(_ status: [String: Any], _ name: String, ifindex: Int) -> Int {
        let interface = (status["interfaces"] as? [[String: Any]] ?? []).first {
            $0["name"] as? String == name && $0["ifindex"] as? Int == ifindex
        }
        return (interface?["hooks"] as? [Any])?.count ?? 0
    }

    func ifindex(_ role: Role, _ interface: String) throws -> Int {
        let shown = try run(role, ["ip", "-j", "link", "show", interface]).output
        let links = try JSONSerialization.jsonObject(with: Data(shown.utf8)) as? [[String: Any]] ?? []
        return try #require(links.first?["ifindex"] as? Int, "no \(interface): \(shown)")
    }

    /// `fabricguard apply`, which must succeed.
    func apply(_ policy: String, _ options: String...) throws {
        let result = try Command.run(agentCommand(["apply", "--policy", policy] + options))
        guard result.status == 0 else { throw Namespace.NamespaceError(message: "fabricguard apply \(policy): \(result.output)") }
    }

    func json(_ arguments: String...) throws -> [String: Any] { try json(arguments) }

    func json(_ arguments: [String]) throws -> [String: Any] {
        let result = try Command.run(agentCommand(arguments + ["--json"]))
        guard result.status == 0, let object = try JSONSerialization.jsonObject(with: Data(result.output.utf8)) as? [String: Any] else {
            throw Namespace.NamespaceError(message: "fabricguard \(arguments.joined(separator: " ")) failed: \(result.output)")
        }
        return object
    }

    /// Packets of one counter row of `fabricguard stats`, 0 when absent.
    func counter(_ interface: String, _ direction: String, _ reason: String, _ action: String) throws -> Int {
        let rows = try json("stats")["counters"] as? [[String: Any]] ?? []
        return rows.first {
            $0["interface"] as? String == interface && $0["direction"] as? String == direction
                && $0["reason"] as? String == reason && $0["action"] as? String == action
        }?["packets"] as? Int ?? 0
    }

    /// The programs on a host interface: XDP and clsact as bpftool sees them,
    /// plus the tcx hooks (which this bpftool, 7.1, predates).
    func ourPrograms(_ interface: String) throws -> Int {
        let shown = try run(.host, ["bpftool", "-j", "net", "show", "dev", interface]).output
        let sections = try JSONSerialization.jsonObject(with: Data(shown.utf8)) as? [[String: Any]] ?? []
        let classic = sections.reduce(0) { count, section in
            count + ((section["xdp"] as? [Any])?.count ?? 0) + ((section["tc"] as? [Any])?.count ?? 0)
        }
        return try classic + tcx(interface, "egress").count + tcx(interface, "ingress").count
    }

    /// fabricguard's tc programs on a host interface's `direction` (egress,
    /// ingress): its clsact filters and its tcx programs.
    func tcFilters(_ interface: String, _ direction: String) throws -> Int {
        let shown = try run(.host, ["tc", "filter", "show", "dev", interface, direction]).output
        let filters = shown.split(separator: "\n").filter { $0.contains("fg_tc_") }.count
        return try filters + tcx(interface, direction).filter { ($0["name"] as? String ?? "").hasPrefix("fg_tc_") }.count
    }

    /// The programs on a host interface's tcx hook, in run order: `id`, `name`, `link_id`.
    func tcx(_ interface: String, _ direction: String) throws -> [[String: Any]] {
        let result = try Command.run(hostCommand([Command.built("fabricguard-selftest"), "--tcx-list", interface, direction]))
        guard result.status == 0, let listed = try JSONSerialization.jsonObject(with: Data(result.output.utf8)) as? [String: Any] else {
            throw Namespace.NamespaceError(message: "tcx-list \(interface) \(direction): \(result.output)")
        }
        return listed["programs"] as? [[String: Any]] ?? []
    }

    /// A command in the host namespace that keeps the global /sys/fs/bpf (`nsenter --net`).
    func hostCommand(_ arguments: [String]) -> [String] {
        ["nsenter", "--net=/run/netns/\(namespace(.host))"] + arguments
    }

    /// A `scripts/probe` verb in the background; `start` returns once its
    /// socket is bound (it creates the ready file), never after a guessed sleep.
    func probe(_ role: Role, _ arguments: [String], ready: Bool = true) throws -> BackgroundProbe {
        try BackgroundProbe(namespace: namespace(role), arguments: arguments, readyFile: ready ? directory.appendingPathComponent("ready-\(UUID().uuidString)").path : nil)
    }

    /// A probe verb run to completion; its JSON report.
    func probeReport(_ role: Role, _ arguments: [String]) throws -> [String: Any] {
        let result = try run(role, [Lab.script("probe")] + arguments)
        let line = result.output.split(separator: "\n").last { $0.hasPrefix("{") } ?? ""
        guard let report = try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any] else {
            throw Namespace.NamespaceError(message: "probe \(arguments.joined(separator: " ")): \(result.output)")
        }
        return report
    }

    /// Sends `count` UDP datagrams from `source` in `from` to `destination` in
    /// `to` and returns how many arrived.
    func udp(_ from: Role, _ source: String, _ to: Role, _ destination: String, port: Int, count: Int = 3) throws -> Int {
        let receiver = try probe(to, ["udp-receive", "--on", destination, "--port", "\(port)", "--stop-file", stopFile(), "--expect", "\(count)"])
        defer { receiver.stop() }
        _ = try probeReport(from, ["udp-send", "--from", source, "--to", destination, "--port", "\(port)", "--count", "\(count)"])
        return try receiver.stopAndFinish()["received"] as? Int ?? -1
    }

    /// Waits until every link in `role`'s namespace that is up shows the operstate its
    /// carrier gives (LOWER_UP and operstate UP, or neither): the kernel's linkwatch sets
    /// operstate (and IFF_RUNNING) after the carrier, up to a second later under load.
    func settleLinks(_ role: Role, seconds: Double = 10) throws {
        let deadline = Date().addingTimeInterval(seconds)
        var unsettled: [String] = []
        repeat {
            let shown = try run(role, ["ip", "-j", "link", "show"]).output
            let links = try JSONSerialization.jsonObject(with: Data(shown.utf8)) as? [[String: Any]] ?? []
            unsettled = links.compactMap { link in
                let flags = link["flags"] as? [String] ?? []
                let name = link["ifname"] as? String ?? "?", operstate = link["operstate"] as? String ?? ""
                guard flags.contains("UP"), operstate != "UNKNOWN" else { return nil }  // lo says UNKNOWN
                return flags.contains("LOWER_UP") == (operstate == "UP") ? nil : "\(name) (\(operstate), \(flags))"
            }
            if unsettled.isEmpty { return }
            usleep(10_000)
        } while Date() < deadline
        throw Namespace.NamespaceError(message: "links did not settle in \(seconds) s: \(unsettled)")
    }

    /// A fresh path for a receiver's --stop-file: it listens until the sender is done
    /// (however long a loaded machine takes to start it), then for what is in flight.
    func stopFile() -> String { directory.appendingPathComponent("stop-\(UUID().uuidString)").path }

    /// Whether a TCP connection from `source` (host) to `destination` (array) echoes.
    func tcp(_ source: String, _ destination: String, port: Int) throws -> Bool {
        let server = try probe(.array, ["tcp-echo", "--on", destination, "--port", "\(port)", "--timeout", "4"])
        let client = try probeReport(.host, ["tcp-check", "--from", source, "--to", destination, "--port", "\(port)", "--timeout", "3"])
        _ = try? server.finish()
        return client["echoed"] as? Bool == true
    }

    static func script(_ name: String) -> String {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("scripts/\(name)").path
    }

    func close() {
        _ = try? Command.run([Lab.script("lab"), "down", name])
        try? FileManager.default.removeItem(at: directory)
    }
}

/// A `scripts/probe` process running in a lab namespace.
final class BackgroundProbe {
    let child: Child

    /// Its --stop-file, if it was given one.
    let stopFile: String?

    init(namespace: String, arguments: [String], readyFile: String?) throws {
        stopFile = arguments.firstIndex(of: "--stop-file").map { arguments[$0 + 1] }
        child = try Child(["ip", "netns", "exec", namespace, Lab.script("probe")] + arguments + (readyFile.map { ["--ready", $0] } ?? []))
        guard let readyFile else { return }
        let deadline = Date().addingTimeInterval(10)
        while !FileManager.default.fileExists(atPath: readyFile) {
            guard Date() < deadline, child.isRunning else {
                child.signal(SIGKILL)
                throw Namespace.NamespaceError(message: "probe \(arguments.joined(separator: " ")) never became ready: \(child.readOutput())")
            }
            usleep(10_000)
        }
    }

    /// Creates its stop file (the receiver then drains what is in flight and ends).
    func stop() {
        if let stopFile { FileManager.default.createFile(atPath: stopFile, contents: nil) }
    }

    func stopAndFinish() throws -> [String: Any] {
        stop()
        return try finish()
    }

    /// Waits for the probe to finish and returns its JSON report.
    func finish() throws -> [String: Any] {
        let output = child.readOutput()
        child.wait()
        let line = output.split(separator: "\n").last { $0.hasPrefix("{") } ?? ""
        guard let report = try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any] else {
            throw Namespace.NamespaceError(message: "probe report unreadable: \(output)")
        }
        return report
    }
}
