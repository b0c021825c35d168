import Foundation
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// Polls `condition` until it holds; fails after `seconds` naming `what`.
func waitUntil(_ what: String, seconds: Double = 10, _ condition: () throws -> Bool) throws {
    let deadline = Date().addingTimeInterval(seconds)
    while Date() < deadline {
        if try condition() { return }
        usleep(20_000)
    }
    throw Namespace.NamespaceError(message: "waited \(seconds) s for \(what)")
}

extension Lab {
    /// The lab's policy with an `events:` budget.
    func policy(_ file: String, events: String) throws -> String {
        try write(file, String(contentsOfFile: policy("base-\(file)"), encoding: .utf8) + "events: \(events)\n")
    }

    /// One row of `stats --json`'s events: (sent, suppressed, ring_full).
    func eventTally(_ interface: String, _ reason: String) throws -> (sent: Int, suppressed: Int, ringFull: Int) {
        let rows = try json("stats")["events"] as? [[String: Any]] ?? []
        let row = rows.first { $0["interface"] as? String == interface && $0["reason"] as? String == reason } ?? [:]
        return (row["sent"] as? Int ?? 0, row["suppressed"] as? Int ?? 0, row["ring_full"] as? Int ?? 0)
    }

    /// An HTTP GET from the lab host's namespace (where the daemon's loopback endpoint is).
    func get(_ url: String) throws -> String {
        let result = try run(.host, ["curl", "-sS", "--max-time", "10", url])
        guard result.status == 0 else { throw Namespace.NamespaceError(message: "GET \(url): \(result.output)") }
        return result.output
    }
}

/// JSON lines written by an `events --json` client, decoded.
func eventLines(_ path: String) -> [[String: Any]] {
    let text = (try? String(contentsOfFile: path, encoding: .utf8)) ?? ""
    return text.split(separator: "\n").compactMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }
}

/// The daemon's events socket, its rate limit, its metrics endpoint and the
/// alert rules, against real clients: `events`, a Prometheus server, promtool,
/// and clients that misbehave.
@Suite("Kernel tier: events and metrics of the daemon", .enabled(if: KernelGate.enabled, KernelGate.skipMessage), .serialized)
struct ObservabilityTests {
    @Test func aFloodIsSampledAtThePolicysRateAndEveryViolationIsCounted() throws {
        let lab = try Lab("flood", ipv4Only: true)
        defer { lab.close() }
        let (b, pb) = (lab.host["sanb0"]!, lab.array["portb"]!)
        let policy = try lab.policy("flood.yaml", events: "{rate: 100, burst: 200}")
        let daemon = try DaemonProcess(lab, policy: policy, arguments: ["--metrics", "off", "--log-level", "debug"])
        try daemon.waitUntilEnforcing()
        try lab.misroute()
        let output = lab.directory.appendingPathComponent("events.jsonl").path
        let client = try Child(lab.agentCommand(["events", "--json", "--pin-dir", lab.pinDir]), output: .file(output))
        defer {
            client.signal(SIGKILL)
            client.wait()
        }
        try waitUntil("the events client to connect") { daemon.log.contains("events client connected") }

        // 10,000 leaking packets a second for 5 s.
        let flood = try lab.probeReport(
            .host, ["udp-send", "--from", b.ipv4, "--to", pb.ipv4, "--port", "9762", "--count", "50000", "--rate", "10000"])
        let seconds = try #require(flood["seconds"] as? Double)
        let violations = try lab.counter("sana0", "egress", "foreign_source", "drop")
        #expect(violations >= 49_500, "\(flood)")
        var tally = try lab.eventTally("sana0", "foreign_source")
        try waitUntil("the client to receive every event sent (\(tally.sent))") {
            tally = try lab.eventTally("sana0", "foreign_source")
            return eventLines(output).count >= tally.sent
        }
        let events = eventLines(output)
        // Nothing lost without a count: each violation was sent or suppressed.
        #expect(tally.sent + tally.suppressed + tally.ringFull == violations)
        #expect(tally.ringFull == 0 && events.count == tally.sent)
        // The rate: a burst of 200, then 100/s for as long as the flood lasted (5 s at 10,000/s).
        #expect(Double(events.count) <= 100 * seconds + 200 + 1, "\(events.count) events in \(seconds) s")
        #expect(events.count >= 630, "\(events.count) events in \(seconds) s")
        #expect(seconds >= 4.9 && seconds < 7, "the flood took \(seconds) s")
        for event in events {
            #expect(event["interface"] as? String == "sana0" && event["reason"] as? String == "foreign_source"
                && event["action"] as? String == "drop" && event["direction"] as? String == "egress", "\(event)")
            #expect(event["src"] as? String == b.ipv4 && event["dst"] as? String == pb.ipv4 && event["dport"] as? Int == 9762
                && event["protocol"] as? String == "udp" && event["source_fabric"] as? String == "san-b", "\(event)")
        }
        // The log summarizes the flood: one line per interface and reason, not one per packet.
        try waitUntil("a violation summary in the log", seconds: 15) { daemon.log.contains("violations") }
        let summaries = daemon.log.split(separator: "\n").filter { $0.contains(" violations") }
        #expect(summaries.count <= 2 && summaries.allSatisfy { $0.contains("top=\(b.ipv4) -> \(pb.ipv4)") }, "\(summaries)")
        #expect(daemon.stop() == 0)
    }

    @Test func aStoppedClientLosesEventsNotTheDaemonNorOtherClients() throws {
        let lab = try Lab("slow", ipv4Only: true)
        defer { lab.close() }
        let (b, pb) = (lab.host["sanb0"]!, lab.array["portb"]!)
        let policy = try lab.policy("slow.yaml", events: "{rate: 100000, burst: 100000}")
        let daemon = try DaemonProcess(lab, policy: policy, arguments: ["--log-level", "debug"])
        try daemon.waitUntilEnforcing()
        try lab.misroute()
        let output = lab.directory.appendingPathComponent("events.jsonl").path
        let reader = try Child(lab.agentCommand(["events", "--json", "--pin-dir", lab.pinDir]), output: .file(output))
        let stopped = try Child(lab.agentCommand(["events", "--json", "--pin-dir", lab.pinDir]), output: .discard)
        defer {
            for client in [reader, stopped] {
                client.signal(SIGKILL)
                client.wait()
            }
        }
        try waitUntil("both clients to connect") { daemon.log.components(separatedBy: "events client connected").count == 3 }
        stopped.signal(SIGSTOP)  // it never reads again: its socket fills
        // 6,000 events (about 3 MB of JSON), far more than the stopped client's buffers hold.
        _ = try lab.probeReport(.host, ["udp-send", "--from", b.ipv4, "--to", pb.ipv4, "--port", "9763", "--count", "6000", "--rate", "3000"])
        let tally = try lab.eventTally("sana0", "foreign_source")
        let sent = tally.sent
        #expect(sent >= 5_900, "\(tally)")
        try waitUntil("the reading client to get the events") { eventLines(output).count >= sent * 99 / 100 }
        let metrics = try lab.get("http://127.0.0.1:9750/metrics")
        let drops = metrics.split(separator: "\n").first { $0.hasPrefix("fabricguard_event_client_drops_total ") }
        #expect(Int(drops?.split(separator: " ").last ?? "") ?? 0 > 0, "\(drops ?? "no drops line")")
        #expect(try lab.get("http://127.0.0.1:9750/healthz") == "ok\n")
        #expect(daemon.isRunning)
        stopped.signal(SIGKILL)
        try waitUntil("the stopped client to be let go") { daemon.log.contains("events client left") }
        #expect(daemon.stop() == 0)
    }

    @Test func pcapngOutputOpensInTcpdumpAndTshark() throws {
        let lab = try Lab("pcapng", ipv4Only: true)
        defer { lab.close() }
        let (b, pb) = (lab.host["sanb0"]!, lab.array["portb"]!)
        try lab.apply(try lab.policy("enforce.yaml"))
        try lab.misroute()
        let file = lab.directory.appendingPathComponent("leaks.pcapng").path
        let reader = try Child(["timeout", "30"] + lab.agentCommand(["events", "--count", "5", "--pcapng", file, "--pin-dir", lab.pinDir]))
        try waitUntil("the pcapng file to be created") { FileManager.default.fileExists(atPath: file) }
        _ = try lab.probeReport(.host, ["udp-send", "--from", b.ipv4, "--to", pb.ipv4, "--port", "9764", "--count", "5"])
        let said = reader.readOutput()
        #expect(reader.wait() == 0 && said.contains("wrote 5 events"), "\(said)")
        let tcpdump = try Command.run(["tcpdump", "-n", "-r", file])
        let packets = tcpdump.output.split(separator: "\n").filter { $0.contains("\(b.ipv4).") && $0.contains("\(pb.ipv4).9764") }
        #expect(tcpdump.status == 0 && packets.count == 5, "\(tcpdump.output)")
        let tshark = try Command.run(["tshark", "-r", file, "-T", "fields", "-e", "frame.interface_name", "-e", "frame.comment", "-e", "udp.dstport"])
        let rows = tshark.output.split(separator: "\n").filter { $0.hasPrefix("sana0\t") }
        #expect(tshark.status == 0 && rows.count == 5, "\(tshark.output)")
        #expect(rows.allSatisfy { $0 == "sana0\tegress foreign_source drop\t9764" }, "\(rows)")
    }

    /// The endpoint is bound before anything is enforced: a port in use fails the
    /// start with the port named, and the kernel and the pin directory stay untouched.
    @Test func aMetricsPortInUseFailsTheStartAndChangesNothing() throws {
        let lab = try Lab("portuse", ipv4Only: true)
        defer { lab.close() }
        let listener = try Child(["ip", "netns", "exec", lab.namespace(.host), "python3", "-c",
            "import socket,time; s=socket.socket(); s.bind(('127.0.0.1', 9750)); s.listen(); open('\(lab.directory.path)/bound','w'); time.sleep(60)"])
        defer {
            listener.signal(SIGKILL)
            listener.wait()
        }
        try waitUntil("the port to be taken") { FileManager.default.fileExists(atPath: lab.directory.appendingPathComponent("bound").path) }
        let result = try lab.fabricguard("run", "--policy", try lab.policy("enforce.yaml"), "--pin-dir", lab.pinDir)
        #expect(result.status == 1 && result.output.contains("serve metrics on 127.0.0.1:9750")
            && result.output.contains("--metrics off") && result.output.contains("errno 98"), "\(result.output)")
        #expect(!FileManager.default.fileExists(atPath: lab.pinDir), "the pin directory was left behind")
        #expect(try lab.ourPrograms("sana0") == 0)
    }

    @Test func eventsWithNeitherDaemonNorRingSaysWhatToDo() throws {
        let pinDir = "/sys/fs/bpf/fg-none-\(getpid())"
        let result = try Command.run([Command.built("fabricguard"), "events", "--pin-dir", pinDir])
        #expect(result.status == 3, "\(result.output)")
        #expect(result.output.contains("nothing is applied in \(pinDir)") && result.output.contains("fabricguard run --policy"), "\(result.output)")
    }

    @Test func prometheusScrapesTheDaemonAndItsRulesLoad() throws {
        let lab = try Lab("prom", ipv4Only: true)
        defer { lab.close() }
        let (b, pb) = (lab.host["sanb0"]!, lab.array["portb"]!)
        let daemon = try DaemonProcess(lab, policy: try lab.policy("enforce.yaml"))
        try daemon.waitUntilEnforcing()
        try lab.misroute()
        _ = try lab.probeReport(.host, ["udp-send", "--from", b.ipv4, "--to", pb.ipv4, "--port", "9765", "--count", "7"])
        let dropped = try lab.counter("sana0", "egress", "foreign_source", "drop")
        #expect(dropped == 7)

        // The exposition itself is well-formed (promtool lints names, types and HELP).
        let exposition = lab.directory.appendingPathComponent("metrics.txt").path
        try lab.get("http://127.0.0.1:9750/metrics").write(toFile: exposition, atomically: true, encoding: .utf8)
        let lint = try Command.run(["sh", "-c", "promtool check metrics < \(exposition)"])
        #expect(lint.status == 0, "\(lint.output)")

        // A real Prometheus, in the lab host's namespace, scraping every second.
        let rules = URL(fileURLWithPath: Lab.script("lab")).deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("deploy/prometheus/fabricguard-rules.yml").path
        let config = try lab.write("prometheus.yml", """
            global: {scrape_interval: 1s, evaluation_interval: 1s}
            rule_files: ["\(rules)"]
            scrape_configs:
              - job_name: fabricguard
                static_configs: [{targets: ["127.0.0.1:9750"]}]
            """)
        let prometheus = try Child(
            ["ip", "netns", "exec", lab.namespace(.host), "prometheus", "--config.file=\(config)",
             "--storage.tsdb.path=\(lab.directory.appendingPathComponent("tsdb").path)", "--web.listen-address=127.0.0.1:9090"],
            output: .file(lab.directory.appendingPathComponent("prometheus.log").path))
        defer {
            prometheus.signal(SIGTERM)
            prometheus.wait()
        }
        let query = "http://127.0.0.1:9090/api/v1/query?query="
            + "fabricguard_packets_total%7Breason%3D%22foreign_source%22%2Caction%3D%22drop%22%7D"
        var answer = ""
        try waitUntil("Prometheus to hold the drop counter", seconds: 60) {
            answer = (try? lab.get(query)) ?? ""
            guard let object = try? JSONSerialization.jsonObject(with: Data(answer.utf8)) as? [String: Any],
                  let result = (object["data"] as? [String: Any])?["result"] as? [[String: Any]],
                  let value = result.first?["value"] as? [Any] else { return false }
            return value.last as? String == "\(dropped)"
        }
        let rulesLoaded = try lab.get("http://127.0.0.1:9090/api/v1/rules")
        for alert in ["FabricguardCrossFabricTraffic", "FabricguardHookMissing", "FabricguardPolicyReloadFailed"] {
            #expect(rulesLoaded.contains(alert), "\(rulesLoaded)")
        }
        #expect(daemon.stop() == 0)
    }

    @Test func badHTTPClientsNeitherStopEnforcementNorGrowMemory() throws {
        let lab = try Lab("abuse", ipv4Only: true)
        defer { lab.close() }
        let (b, pb) = (lab.host["sanb0"]!, lab.array["portb"]!)
        let daemon = try DaemonProcess(lab, policy: try lab.policy("enforce.yaml"))
        try daemon.waitUntilEnforcing()
        try lab.misroute()
        var resident: [Int] = []
        for round in 1...3 {
            let report = try lab.probeReport(.host, ["http-abuse", "--to", "127.0.0.1:9750", "--connections", "200"])
            let answers = report["answers"] as? [String: Any] ?? [:]
            #expect(report["opened"] as? Int == 200 && report["healthz_during"] as? Int == 5, "round \(round): \(report)")
            #expect(answers["slow"] as? String == "HTTP/1.1 200 OK" && answers["garbage"] as? String == "HTTP/1.1 400 Bad Request", "\(report)")
            #expect((answers["huge"] as? String).map { $0.hasPrefix("HTTP/1.1 4") || $0.hasPrefix("closed") } == true, "\(report)")
            #expect(answers["after"] as? Int == 200, "\(report)")
            // Still enforcing: the leak is dropped and counted.
            let before = try lab.counter("sana0", "egress", "foreign_source", "drop")
            _ = try lab.probeReport(.host, ["udp-send", "--from", b.ipv4, "--to", pb.ipv4, "--port", "9766", "--count", "3"])
            #expect(try lab.counter("sana0", "egress", "foreign_source", "drop") == before + 3)
            resident.append(try daemon.residentKilobytes())
        }
        // Flat: what the first round allocated is reused by the next ones.
        #expect(resident[2] - resident[0] < 8 * 1024, "resident memory after each round (KiB): \(resident)")
        #expect(daemon.isRunning && daemon.stop() == 0)
    }
}

/// Debian's promtool (package prometheus), when installed.
enum Promtool {
    static let path = ["/usr/bin/promtool", "/usr/local/bin/promtool"].first { FileManager.default.isExecutableFile(atPath: $0) }
}

/// The shipped alert rules: valid, and their unit tests pass. Needs no
/// privilege, only promtool; CI (which requires every tier) must have it.
@Suite("Alert rules", .enabled(if: KernelGate.required || Promtool.path != nil, "promtool is missing (Debian: prometheus; scripts/setup installs it)"))
struct AlertRules {
    static let directory = URL(fileURLWithPath: Lab.script("lab")).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("deploy/prometheus").path

    @Test func rulesAreValidAndTheirTestsPass() throws {
        let promtool = try #require(Promtool.path, "promtool is missing (Debian: prometheus; scripts/setup installs it)")
        let check = try Command.run([promtool, "check", "rules", "\(Self.directory)/fabricguard-rules.yml"])
        #expect(check.status == 0 && check.output.contains("SUCCESS: 3 rules found"), "\(check.output)")
        let test = try Command.run(["sh", "-c", "cd \(Self.directory) && \(promtool) test rules fabricguard-rules.test.yml"])
        #expect(test.status == 0 && test.output.contains("SUCCESS"), "\(test.output)")
    }
}
/// `fabricguard events` on the lab: each violation is reported once, with the
/// fields a person or a script needs to find the leak.
@Suite("Kernel tier: violation events without the daemon", .enabled(if: KernelGate.enabled, KernelGate.skipMessage), .serialized)
struct EventTests {
    @Test func aDroppedLeakIsReportedWithItsAddressesPortsAndOwner() throws {
        let lab = try Lab("events", ipv4Only: true)
        defer { lab.close() }
        let (b, pb) = (lab.host["sanb0"]!, lab.array["portb"]!)
        try lab.apply(try lab.policy("enforce.yaml"))
        try lab.misroute()
        // Nothing yet: a reader with a count waits; nothing to read is not an error.
        _ = try lab.probeReport(.host, ["udp-send", "--from", b.ipv4, "--to", pb.ipv4, "--port", "9760", "--count", "3"])
        let result = try Command.run(["timeout", "20"] + lab.agentCommand(["events", "--json", "--count", "3", "--pin-dir", lab.pinDir]))
        #expect(result.status == 0, "\(result.output)")
        let events = result.output.split(separator: "\n").compactMap {
            try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any]
        }
        #expect(events.count == 3, "\(result.output)")
        for event in events {
            #expect(event["interface"] as? String == "sana0" && event["fabric"] as? String == "san-a", "\(event)")
            #expect(event["direction"] as? String == "egress" && event["reason"] as? String == "foreign_source"
                && event["action"] as? String == "drop", "\(event)")
            #expect(event["src"] as? String == b.ipv4 && event["dst"] as? String == pb.ipv4, "\(event)")
            #expect(event["protocol"] as? String == "udp" && event["dport"] as? Int == 9760, "\(event)")
            #expect(event["source_fabric"] as? String == "san-b" && event["generation"] as? Int == 1, "\(event)")
            #expect((event["frame"] as? String)?.hasPrefix(lab.array["porta"]!.mac.replacingOccurrences(of: ":", with: "")) == true, "\(event)")
            #expect(event["vlan"] as? [Int] == [] && (event["time"] as? String)?.hasSuffix("Z") == true, "\(event)")
        }
    }
}
