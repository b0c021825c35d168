import Foundation
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// `fabricguard run` as a process: one writer per pin directory, SIGHUP,
/// SIGKILL at random moments, SIGTERM, systemd's readiness protocol, and
/// `status` telling the truth about what is (not) enforced.
@Suite("Kernel tier: the daemon's lifecycle", .enabled(if: KernelGate.enabled, KernelGate.skipMessage), .serialized)
struct DaemonLifecycleTests {
    @Test func oneWriterPerPinDirectory() throws {
        let lab = try Lab("lock", ipv4Only: true)
        defer { lab.close() }
        let (b, pb) = (lab.host["sanb0"]!, lab.array["portb"]!)
        let policy = try lab.policy("enforce.yaml")
        let daemon = try DaemonProcess(lab, policy: policy)
        try daemon.waitUntilEnforcing()
        let second = try lab.fabricguard("run", "--policy", policy, "--pin-dir", lab.pinDir)
        #expect(second.status == 1 && second.output.contains("pid \(daemon.pid)"), "\(second.output)")
        let apply = try lab.fabricguard("apply", "--policy", policy)
        #expect(apply.status == 1 && apply.output.contains("SIGHUP") && apply.output.contains("\(daemon.pid)"), "\(apply.output)")
        let unload = try lab.fabricguard("unload")
        #expect(unload.status == 1 && unload.output.contains("\(daemon.pid)"), "\(unload.output)")
        // Asked with another runtime directory than the daemon's, apply still knows it is a daemon (and does not wait).
        let elsewhere = try Command.run(["timeout", "20"] + lab.agentCommand(
            ["apply", "--policy", policy, "--runtime-dir", lab.directory.appendingPathComponent("elsewhere").path]))
        #expect(elsewhere.status == 1 && elsewhere.output.contains("\(daemon.pid)"), "\(elsewhere.output)")
        #expect(daemon.stop() == 0)

        // Concurrent applies queue: each one advances the generation exactly once,
        // on a fresh pin directory (the first apply's race) and on an existing one.
        func applyPair() throws {
            let pair = try (0..<2).map { _ in try Child(lab.agentCommand(["apply", "--policy", policy]), output: .capture) }
            for child in pair {
                let output = child.readOutput()
                #expect(child.wait() == 0, "\(output)")
            }
        }
        for _ in 0..<20 {
            #expect(try lab.fabricguard("unload").status == 0)
            try applyPair()
            #expect(try lab.status()["generation"] as? Int == 2)
        }
        for round in 1...20 {
            try applyPair()
            #expect(try lab.status()["generation"] as? Int == 2 + 2 * round)
        }
        try expectProgramsUsePinnedMaps(lab)

        // An audit apply really stops dropping: the leak arrives and is counted would_drop.
        try lab.misroute()
        #expect(try lab.udp(.host, b.ipv4, .array, pb.ipv4, port: 9740) == 0)
        try lab.apply(try lab.policy("audit.yaml", mode: "audit"))
        let dropped = try lab.counter("sana0", "egress", "foreign_source", "drop")
        let wouldDrop = try lab.counter("sana0", "egress", "foreign_source", "would_drop")
        #expect(try lab.udp(.host, b.ipv4, .array, pb.ipv4, port: 9741) == 3)
        #expect(try lab.counter("sana0", "egress", "foreign_source", "would_drop") - wouldDrop == 3)
        #expect(try lab.counter("sana0", "egress", "foreign_source", "drop") == dropped)
    }

    /// The maps the attached programs use (bpftool: map_ids) are the pinned ones.
    func expectProgramsUsePinnedMaps(_ lab: Lab) throws {
        let mapsDirectory = "\(lab.pinDir)/maps"
        var pinned: [String: Int] = [:]
        for name in try FileManager.default.contentsOfDirectory(atPath: mapsDirectory) {
            let shown = try Command.run(["bpftool", "-j", "map", "show", "pinned", "\(mapsDirectory)/\(name)"]).output
            pinned[name] = (try JSONSerialization.jsonObject(with: Data(shown.utf8)) as? [String: Any])?["id"] as? Int
        }
        let programs = (try lab.status()["interfaces"] as? [[String: Any]] ?? []).flatMap { interface in
            (interface["hooks"] as? [[String: Any]] ?? []).compactMap { $0["program_id"] as? Int }
        }
        #expect(!programs.isEmpty)
        for program in Set(programs) {
            let shown = try Command.run(["bpftool", "-j", "prog", "show", "id", "\(program)"]).output
            let ids = (try JSONSerialization.jsonObject(with: Data(shown.utf8)) as? [String: Any])?["map_ids"] as? [Int] ?? []
            for id in ids {
                let map = try Command.run(["bpftool", "-j", "map", "show", "id", "\(id)"]).output
                let name = (try JSONSerialization.jsonObject(with: Data(map.utf8)) as? [String: Any])?["name"] as? String ?? ""
                // libbpf's own .rodata/.bss maps are per load; every ABI map must be the pinned one.
                if name.contains(".") { continue }
                #expect(pinned.values.contains(id), "program \(program) uses map \(name) (id \(id)), not the pinned one (\(pinned))")
            }
        }
    }

    @Test func sighupReloadsAGoodPolicyRefusesABrokenOneAndMisjudgesNothing() throws {
        let lab = try Lab("hup", ipv4Only: true)
        defer { lab.close() }
        let one = try String(contentsOfFile: lab.policy("one.yaml"), encoding: .utf8)
        let two = try String(contentsOfFile: lab.policy("two.yaml", extraPrefix: "10.77.0.0/16"), encoding: .utf8)
        let file = try lab.write("running.yaml", one)
        let daemon = try DaemonProcess(lab, policy: file)
        defer { daemon.stop() }
        try daemon.waitUntilEnforcing()
        try lab.misroute()
        func digest() throws -> String { try lab.status()["digest"] as? String ?? "" }

        let first = try digest()
        _ = try lab.write("running.yaml", two)
        daemon.child.signal(SIGHUP)
        try lab.waitForStatus("the reloaded digest") { $0["digest"] as? String != first }
        let second = try digest()

        _ = try lab.write("running.yaml", "version: 1\nfabrics:\n  - name: san-a\n    interfaces: [sana0]\n    prefixes: [10.1.0.0/33]\n")
        daemon.child.signal(SIGHUP)
        let deadline = Date().addingTimeInterval(10)
        while !daemon.log.contains("policy reload refused"), Date() < deadline { usleep(10_000) }
        #expect(daemon.log.contains("policy reload refused") && daemon.log.contains("running.yaml:5:"), "\(daemon.log)")
        #expect(try digest() == second, "a refused reload changed the running policy")
        #expect(daemon.isRunning)

        // Twenty reloads in a row under traffic: nothing lost, nothing leaked.
        let streams = try SwapTests.Streams(lab)
        var current = second
        for round in 1...20 {
            _ = try lab.write("running.yaml", round % 2 == 0 ? two : one)
            daemon.child.signal(SIGHUP)
            try lab.waitForStatus("reload \(round)") { $0["digest"] as? String != current }
            current = try digest()
        }
        try streams.stopAndCheck()
    }

    @Test func sigkillAtRandomMomentsUnderTrafficLeavesNoGapAndNothingTwice() throws {
        let lab = try Lab("sigkill", ipv4Only: true)
        defer { lab.close() }
        let policy = try lab.policy("enforce.yaml")
        var daemon = try DaemonProcess(lab, policy: policy)
        try daemon.waitUntilEnforcing()
        try lab.misroute()
        let streams = try SwapTests.Streams(lab)
        var generator = SystemRandomNumberGenerator()
        for _ in 0..<50 {
            daemon.stop(SIGKILL)
            daemon = try DaemonProcess(lab, policy: policy)
            // Anywhere from before its first apply to well after it.
            usleep(UInt32.random(in: 0..<150_000, using: &generator))
        }
        daemon.stop(SIGKILL)
        daemon = try DaemonProcess(lab, policy: policy)
        try daemon.waitUntilEnforcing()
        try streams.stopAndCheck()

        let status = try lab.status()
        #expect(status["healthy"] as? Bool == true, "\(status)")
        for interface in status["interfaces"] as? [[String: Any]] ?? [] {
            #expect((interface["hooks"] as? [Any])?.count == 2, "\(interface)")
        }
        for interface in ["sana0", "sanb0"] {
            #expect(try lab.tcFilters(interface, "egress") == 1, "\(interface)")
            #expect(try lab.ourPrograms(interface) == 2, "\(interface)")
        }
        // Only what an instance pins: its maps, and per interface one tcx link
        // (tc egress) and one XDP link; no staging pin of a relink left over.
        let links = try FileManager.default.contentsOfDirectory(atPath: "\(lab.pinDir)/links").sorted()
        #expect(links.count == 4 && links.filter { $0.hasPrefix("xdp-") }.count == 2
            && links.filter { $0.hasPrefix("tc-egress-") && !$0.hasSuffix("-new") }.count == 2, "\(links)")
        #expect(try FileManager.default.contentsOfDirectory(atPath: lab.pinDir).sorted() == ["links", "maps"])
        #expect(daemon.stop() == 0)
    }

    @Test func sigtermLeavesEnforcementAndUnloadOnExitRemovesEverything() throws {
        let lab = try Lab("term", ipv4Only: true)
        defer { lab.close() }
        let (b, pb) = (lab.host["sanb0"]!, lab.array["portb"]!)
        let policy = try lab.policy("enforce.yaml")
        var daemon = try DaemonProcess(lab, policy: policy)
        try daemon.waitUntilEnforcing()
        #expect(daemon.stop(SIGTERM) == 0)
        let after = try lab.fabricguard("status", "--json")
        #expect(after.status == 0, "\(after.output)")
        #expect(try lab.status()["daemon_pid"] == nil)
        try lab.misroute()
        #expect(try lab.udp(.host, b.ipv4, .array, pb.ipv4, port: 9750) == 0, "enforcement ended with the daemon")

        daemon = try DaemonProcess(lab, policy: policy, arguments: ["--unload-on-exit"])
        try daemon.waitUntilEnforcing()
        #expect(daemon.stop(SIGINT) == 0)
        #expect(try lab.fabricguard("status").status == 3)
        for interface in ["sana0", "sanb0"] {
            #expect(try lab.ourPrograms(interface) == 0)
            // The clsact qdisc fabricguard made is gone too.
            #expect(try !lab.run(.host, ["tc", "qdisc", "show", "dev", interface]).output.contains("clsact"))
        }
        #expect(try lab.udp(.host, b.ipv4, .array, pb.ipv4, port: 9751) == 3)
    }

    @Test func statusTellsTheTruth() throws {
        let lab = try Lab("truth", ipv4Only: true)
        defer { lab.close() }
        let small = try lab.policy("small.yaml")
        try lab.apply(small)
        #expect(try lab.fabricguard("status").status == 0)

        // A NIC re-created behind an apply's back: hooks on a dead ifindex.
        let recreated = try Command.run([Lab.script("lab"), "recreate", lab.name, "sana0"])
        try #require(recreated.status == 0, "\(recreated.output)")
        var result = try lab.fabricguard("status", "--json")
        #expect(result.status == 4)
        var problems = try lab.status()["problems"] as? [[String: Any]] ?? []
        #expect(problems.contains { $0["interface"] as? String == "sana0" && $0["problem"] as? String == "stale_ifindex" }, "\(problems)")
        try lab.must(.host, ["ip", "link", "del", "sanb0"])
        problems = try lab.status()["problems"] as? [[String: Any]] ?? []
        #expect(problems.contains { $0["interface"] as? String == "sanb0" && $0["problem"] as? String == "interface_missing" }, "\(problems)")

        // Not readable (nobody, no capabilities): an error that names the cause, never "nothing applied".
        // (nsenter, not `ip netns exec`: that remounts /sys, hiding bpffs and with it the question.)
        result = try Command.run(["nsenter", "--net=/run/netns/\(lab.namespace(.host))", "setpriv", "--reuid=65534", "--regid=65534",
                                  "--clear-groups", "--inh-caps=-all", "--bounding-set=-all", Command.built("fabricguard"),
                                  "status", "--pin-dir", lab.pinDir])
        #expect(result.status == 1 && result.output.contains("Permission denied"), "\(result.output)")

        // A first apply killed half-way: pins, no finished generation.
        #expect(try lab.fabricguard("unload").status == 0)
        let extra = (0..<32_768).map { "10.\(128 + $0 / 256).\($0 % 256).0/24" }.joined(separator: ", ")
        let large = try lab.write("large.yaml", String(contentsOfFile: small, encoding: .utf8)
            .replacingOccurrences(of: "prefixes: [10.1.0.0/24,", with: "prefixes: [10.1.0.0/24, \(extra),"))
        // Killed the moment its first pin appears: the 32k prefixes are still being written.
        var partial = false
        for _ in 0..<5 where !partial {
            _ = try lab.fabricguard("unload")
            let agent = try Child(lab.agentCommand(["apply", "--policy", large, "--allow-missing"]), output: .discard)
            let deadline = Date().addingTimeInterval(20)
            while !FileManager.default.fileExists(atPath: "\(lab.pinDir)/maps/fg_state"), agent.isRunning, Date() < deadline {
                usleep(500)
            }
            agent.signal(SIGKILL)
            agent.wait()
            let status = try lab.fabricguard("status", "--json")
            if status.status == 4, status.output.contains("partial_apply") { partial = true }
            #expect([0, 3, 4].contains(status.status), "\(status.output)")
        }
        #expect(partial, "no kill landed between the first pin and the first generation")
        // What the killed apply left is adopted by the next one.
        let recovered = try lab.fabricguard("apply", "--policy", small, "--allow-missing")
        #expect(recovered.status == 0, "\(recovered.output)")
        #expect(try !lab.fabricguard("status", "--json").output.contains("partial_apply"))
    }

    @Test func twoInstancesInOneNamespaceNeverTouchEachOther() throws {
        let lab = try Lab("two", ipv4Only: true)
        defer { lab.close() }
        let full = try String(contentsOfFile: lab.policy("full.yaml"), encoding: .utf8)
        /// The lab's policy with only one of its fabrics.
        func only(_ fabric: String) -> String {
            var keep = true
            return full.split(separator: "\n", omittingEmptySubsequences: false).filter { line in
                if line.hasPrefix("  - name: ") { keep = line.hasSuffix(fabric) }
                if !line.hasPrefix("  ") { keep = true }
                return keep
            }.joined(separator: "\n")
        }
        let policyA = try lab.write("a.yaml", only("san-a"))
        let policyB = try lab.write("b.yaml", only("san-b"))
        let pinB = lab.pinDir + "-b"
        func fabricguard(_ arguments: [String], pinDir: String) throws -> Command.Result {
            try Command.run(lab.agentCommand(arguments + ["--pin-dir", pinDir]))
        }
        func status(_ pinDir: String) throws -> [String: Any] {
            let result = try fabricguard(["status", "--json"], pinDir: pinDir)
            return try JSONSerialization.jsonObject(with: Data(result.output.utf8)) as? [String: Any] ?? [:]
        }
        #expect(try fabricguard(["apply", "--policy", policyA], pinDir: lab.pinDir).status == 0)
        #expect(try fabricguard(["apply", "--policy", policyB], pinDir: pinB).status == 0)
        #expect(try status(lab.pinDir)["healthy"] as? Bool == true && status(pinB)["healthy"] as? Bool == true)
        #expect(try lab.tcFilters("sana0", "egress") == 1 && lab.tcFilters("sanb0", "egress") == 1)

        // A swap of one leaves the other's generation and hooks alone.
        let bBefore = try status(pinB)
        #expect(try fabricguard(["apply", "--policy", lab.write("a2.yaml", only("san-a").replacingOccurrences(of: "prefixes: [10.1.0.0/24", with: "prefixes: [10.77.0.0/16, 10.1.0.0/24"))], pinDir: lab.pinDir).status == 0)
        #expect(try status(lab.pinDir)["generation"] as? Int == 2)
        let bAfter = try status(pinB)
        #expect(bAfter["generation"] as? Int == bBefore["generation"] as? Int && bAfter["healthy"] as? Bool == true)

        // Unloading one (which sweeps every interface for its own hooks) leaves the other enforcing.
        #expect(try fabricguard(["unload"], pinDir: pinB).status == 0)
        #expect(try lab.tcFilters("sanb0", "egress") == 0)
        #expect(try lab.tcFilters("sana0", "egress") == 1)
        let a = try status(lab.pinDir)
        #expect(a["healthy"] as? Bool == true, "\(a)")
        #expect(try fabricguard(["unload"], pinDir: lab.pinDir).status == 0)
        #expect(try lab.ourPrograms("sana0") == 0 && lab.ourPrograms("sanb0") == 0)
    }

    @Test func systemdHearsReadyReloadingAndTheWatchdog() throws {
        let lab = try Lab("notify", ipv4Only: true)
        defer { lab.close() }
        let socketPath = lab.directory.appendingPathComponent("notify.sock").path
        let listener = try NotifyListener(path: socketPath)
        let daemon = try DaemonProcess(
            lab, policy: lab.policy("enforce.yaml"), environment: ["NOTIFY_SOCKET": socketPath, "WATCHDOG_USEC": "200000"])
        defer { daemon.stop() }

        let ready = try listener.next { $0.contains("READY=1") }
        // READY comes only once the kernel enforces: the generation is already there.
        #expect(ready.contains("STATUS=generation 1, sha256:"), "\(ready)")
        #expect(try lab.status()["generation"] as? Int == 1)

        daemon.child.signal(SIGHUP)
        _ = try listener.next { $0.contains("RELOADING=1") }
        let reloaded = try listener.next { $0.contains("READY=1") }
        #expect(reloaded.contains("STATUS=generation"), "\(reloaded)")

        // WatchdogSec=0.2s: pings at half the period.
        let started = Date()
        for _ in 0..<3 { _ = try listener.next { $0 == "WATCHDOG=1" } }
        #expect(Date().timeIntervalSince(started) < 2)
    }
}

/// A NOTIFY_SOCKET of the test's own: a unix datagram socket, as systemd binds.
final class NotifyListener {
    private let descriptor: Int32
    private let path: String

    init(path: String) throws {
        self.path = path
        descriptor = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue), 0)
        guard descriptor >= 0 else { throw Namespace.NamespaceError(message: "socket: errno \(errno)") }
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            raw.copyBytes(from: Array(path.utf8.prefix(raw.count - 1)) + [0])
        }
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(descriptor, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        guard bound == 0 else { throw Namespace.NamespaceError(message: "bind \(path): errno \(errno)") }
    }

    deinit {
        close(descriptor)
        unlink(path)
    }

    /// The next datagram that satisfies `matching`, within `seconds`.
    func next(seconds: Double = 15, _ matching: (String) -> Bool) throws -> String {
        let deadline = Date().addingTimeInterval(seconds)
        var buffer = [UInt8](repeating: 0, count: 4096)
        while true {
            let left = deadline.timeIntervalSinceNow
            guard left > 0 else { throw Namespace.NamespaceError(message: "no matching sd_notify message in \(seconds) s") }
            var descriptors = [pollfd(fd: descriptor, events: Int16(POLLIN), revents: 0)]
            guard poll(&descriptors, 1, Int32(left * 1000)) > 0 else { continue }
            let count = recv(descriptor, &buffer, buffer.count, 0)
            guard count > 0 else { continue }
            let message = String(decoding: buffer[..<count], as: UTF8.self)
            if matching(message) { return message }
        }
    }
}
