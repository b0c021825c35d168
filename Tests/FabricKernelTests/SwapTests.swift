import Foundation
import Testing

/// Policy swaps under traffic and an agent killed mid-apply: a sequence-
/// numbered stream on the right fabric must lose nothing, a leaking stream
/// across the wrong fabric must never get a packet through.
@Suite("Kernel tier: hitless swaps and agent death", .enabled(if: KernelGate.enabled, KernelGate.skipMessage), .serialized)
struct SwapTests {
    /// An allowed stream (SAN-A source on SAN-A) and a forbidden one (the
    /// misroute: SAN-B source out of sana0), both running until `stop()`.
    struct Streams {
        let lab: Lab
        let stopFile: String
        let allowedReceiver, forbiddenReceiver, allowedSender, forbiddenSender: BackgroundProbe

        init(_ lab: Lab) throws {
            self.lab = lab
            let (a, b, pa, pb) = (lab.host["sana0"]!, lab.host["sanb0"]!, lab.array["porta"]!, lab.array["portb"]!)
            stopFile = lab.directory.appendingPathComponent("stop-\(UUID().uuidString)").path
            allowedReceiver = try lab.probe(.array, ["udp-receive", "--on", pa.ipv4, "--port", "9600", "--timeout", "2"])
            forbiddenReceiver = try lab.probe(.array, ["udp-receive", "--on", pb.ipv4, "--port", "9601", "--timeout", "2"])
            let sending = ["--stop-file", stopFile, "--interval", "0.001"]
            allowedSender = try lab.probe(.host, ["udp-send", "--from", a.ipv4, "--to", pa.ipv4, "--port", "9600"] + sending, ready: false)
            forbiddenSender = try lab.probe(.host, ["udp-send", "--from", b.ipv4, "--to", pb.ipv4, "--port", "9601"] + sending, ready: false)
        }

        /// Stops the senders and checks both streams; returns the allowed stream's size.
        @discardableResult
        func stopAndCheck() throws -> Int {
            FileManager.default.createFile(atPath: stopFile, contents: nil)
            let allowedSent = try allowedSender.finish(), forbiddenSent = try forbiddenSender.finish()
            let allowed = try allowedReceiver.finish(), forbidden = try forbiddenReceiver.finish()
            let sent = allowedSent["sent"] as? Int ?? 0
            #expect(sent > 500, "the allowed stream barely ran: \(allowedSent)")
            #expect(allowed["received"] as? Int == sent && allowed["missing"] as? Int == 0,
                    "allowed stream lost packets: sent \(sent), received \(allowed)")
            #expect((forbiddenSent["sent"] as? Int ?? 0) > 500, "the leaking stream barely ran: \(forbiddenSent)")
            #expect(forbidden["received"] as? Int == 0, "leaked: \(forbidden)")
            return sent
        }
    }

    @Test func twoHundredSwapsUnderTrafficMisjudgeNothing() throws {
        let lab = try Lab("swap")
        defer { lab.close() }
        // Both policies allow the SAN-A stream and forbid the misrouted one;
        // they differ by a prefix, so every apply writes and flips a bank.
        let policies = [try lab.policy("one.yaml"), try lab.policy("two.yaml", extraPrefix: "10.77.0.0/16")]
        try lab.apply(policies[0])
        try lab.misroute()
        let streams = try Streams(lab)
        for round in 1...200 {
            try lab.apply(policies[round % 2])
        }
        let sent = try streams.stopAndCheck()
        let status = try lab.json("status")
        #expect(status["generation"] as? Int == 201)
        #expect(try lab.counter("sana0", "egress", "ok", "pass") >= sent)
    }

    @Test func movingBetweenClsactAndTCXUnderTrafficMisjudgesNothing() throws {
        let lab = try Lab("move")
        defer { lab.close() }
        let policies = [try lab.policy("one.yaml"), try lab.policy("two.yaml", extraPrefix: "10.77.0.0/16")]
        try lab.apply(policies[0], "--tc-attach", "clsact")
        try lab.misroute()
        let streams = try Streams(lab)
        // Every step moves the egress program: clsact -> tcx first -> tcx last -> clsact ...
        let steps = [["--tc-attach", "tcx", "--tc-order", "first"], ["--tc-attach", "tcx", "--tc-order", "last"], ["--tc-attach", "clsact"]]
        for round in 1...30 {
            let result = try lab.fabricguard(["apply", "--policy", policies[round % 2]] + steps[(round - 1) % 3])
            #expect(result.status == 0, "\(result.output)")
        }
        try streams.stopAndCheck()
        // Round 30 ended in clsact: one filter per interface, no tcx link left behind.
        for interface in ["sana0", "sanb0"] {
            #expect(try lab.tcFilters(interface, "egress") == 1, "\(interface)")
            let tcx = try lab.tcx(interface, "egress")
            #expect(tcx.isEmpty, "\(interface): \(tcx)")
        }
        // The qdisc clsact mode made goes at unload, after all the moves.
        #expect(try lab.fabricguard("unload").status == 0)
        for interface in ["sana0", "sanb0"] {
            #expect(try !lab.run(.host, ["tc", "qdisc", "show", "dev", interface]).output.contains("clsact"), "a qdisc left on \(interface)")
        }
    }

    @Test func enforcementOutlivesAnAgentKilledMidApply() throws {
        let lab = try Lab("kill")
        defer { lab.close() }
        let small = try lab.policy("small.yaml")
        // A large policy makes an apply last long enough to be cut at several points.
        let extra = (0..<32_768).map { "10.\(128 + $0 / 256).\($0 % 256).0/24" }.joined(separator: ", ")
        let large = try lab.write("large.yaml", String(contentsOfFile: small, encoding: .utf8)
            .replacingOccurrences(of: "prefixes: [10.1.0.0/24,", with: "prefixes: [10.1.0.0/24, \(extra),"))
        try lab.apply(large)
        try lab.apply(small)
        // Timed as the killed applies will run: a swap onto hooks already attached.
        let started = Date()
        try lab.apply(large)
        let duration = Date().timeIntervalSince(started)
        try lab.apply(small)
        try lab.misroute()

        let streams = try Streams(lab)
        var interrupted = 0
        for fraction in [0.1, 0.25, 0.4, 0.55, 0.7, 0.85] {
            let agent = try Child(lab.agentCommand(["apply", "--policy", large]), output: .discard)
            usleep(useconds_t(duration * fraction * 1_000_000))
            agent.signal(SIGKILL)
            if agent.wait() == 128 + SIGKILL { interrupted += 1 }
        }
        try streams.stopAndCheck()
        #expect(interrupted >= 4, "only \(interrupted) kills landed inside an apply of \(duration) s")

        // A new apply adopts what the killed ones left: one filter and one
        // program per hook, a consistent generation, the leak still dropped.
        try lab.apply(small)
        let status = try lab.json("status")
        #expect(status["policy"] as? String == small, "\(status)")
        for interface in status["interfaces"] as? [[String: Any]] ?? [] {
            #expect((interface["hooks"] as? [[String: Any]])?.count == 2, "\(interface)")
        }
        for interface in ["sana0", "sanb0"] {
            #expect(try lab.tcFilters(interface, "egress") == 1, "\(interface)")
        }
        let (b, pb) = (lab.host["sanb0"]!, lab.array["portb"]!)
        #expect(try lab.udp(.host, b.ipv4, .array, pb.ipv4, port: 9602) == 0)
    }
}
