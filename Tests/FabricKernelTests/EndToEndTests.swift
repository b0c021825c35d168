import Foundation
import Testing

/// The product on real packets: the lab of `scripts/lab`, real sockets on
/// both sides, the agent applied as an operator would. Every leak is first
/// shown to happen without fabricguard (so each assertion could fail), then
/// shown stopped, and counted under the right reason.
@Suite("Kernel tier: end to end on the two-fabric lab", .enabled(if: KernelGate.enabled, KernelGate.skipMessage), .serialized)
struct EndToEndTests {
    /// UDP that must be dropped at egress: nothing arrives, the sender hears
    /// ENOBUFS for each datagram (IP_RECVERR), the counter moves by `count`.
    func expectDroppedAtEgress(_ lab: Lab, from source: String, to destination: String, port: Int, count: Int = 5) throws {
        let before = try lab.counter("sana0", "egress", "foreign_source", "drop")
        let receiver = try lab.probe(.array, ["udp-receive", "--on", destination, "--port", "\(port)", "--stop-file", lab.stopFile()])
        defer { receiver.stop() }
        let sender = try lab.probeReport(.host, ["udp-send", "--from", source, "--to", destination, "--port", "\(port)",
                                                 "--count", "\(count)", "--recverr"])
        #expect(try receiver.stopAndFinish()["received"] as? Int == 0, "\(source) -> \(destination) leaked")
        #expect((sender["errors"] as? [String: Int])?["ENOBUFS"] == count, "\(sender)")
        #expect(try lab.counter("sana0", "egress", "foreign_source", "drop") - before == count)
    }

    @Test func enforceDropsTheMisrouteAndPassesEverythingElse() throws {
        let lab = try Lab("drop")
        defer { lab.close() }
        let (a, b, pa, pb) = (lab.host["sana0"]!, lab.host["sanb0"]!, lab.array["porta"]!, lab.array["portb"]!)

        // Without fabricguard the misroute leaks SAN-B traffic across SAN-A.
        try lab.misroute()
        #expect(try lab.udp(.host, b.ipv4, .array, pb.ipv4, port: 9500) == 3)
        #expect(try lab.udp(.host, b.ipv6, .array, pb.ipv6, port: 9500) == 3)
        try lab.misroute(undo: true)

        try lab.apply(try lab.policy("enforce.yaml"))
        // Correctly sourced traffic on both fabrics is untouched: UDP and TCP, IPv4 and IPv6.
        for (source, destination) in [(a.ipv4, pa.ipv4), (a.ipv6, pa.ipv6), (b.ipv4, pb.ipv4), (b.ipv6, pb.ipv6)] {
            #expect(try lab.udp(.host, source, .array, destination, port: 9501, count: 5) == 5, "udp \(source) -> \(destination)")
            #expect(try lab.tcp(source, destination, port: 9502), "tcp \(source) -> \(destination)")
        }

        // The misroute again: now dropped and counted on sana0, the sender told.
        try lab.misroute()
        try expectDroppedAtEgress(lab, from: b.ipv4, to: pb.ipv4, port: 9503)
        try expectDroppedAtEgress(lab, from: b.ipv6, to: pb.ipv6, port: 9504)
        #expect(try !lab.tcp(b.ipv4, pb.ipv4, port: 9505))

        // Management traffic passes (no hook there); so does exempt traffic on a fabric NIC.
        let (m, pm) = (lab.host["mgmt0"]!, lab.array["mgmt"]!)
        #expect(try lab.udp(.host, m.ipv4, .array, pm.ipv4, port: 9506) == 3)
        #expect(try lab.udp(.host, m.ipv6, .array, pm.ipv6, port: 9506) == 3)
        let exemptBefore = try lab.counter("sana0", "egress", "exempt", "pass")
        let sniffer = try lab.probe(.fabricA, ["sniff", "--dev", "tohost", "--src", "0.0.0.0", "--expect", "3"])
        _ = try lab.probeReport(.host, ["dhcp-discover", "--dev", "sana0", "--count", "3"])
        #expect(try sniffer.finish()["frames"] as? Int == 3, "DHCP-style 0.0.0.0 frames did not reach fabric A")
        #expect(try lab.counter("sana0", "egress", "exempt", "pass") - exemptBefore >= 3)
        let hostLinkLocal = try linkLocal(lab, .host, "sana0"), arrayLinkLocal = try linkLocal(lab, .array, "porta")
        // Link-local: the scope is each side's own interface.
        let receiver = try lab.probe(
            .array, ["udp-receive", "--on", "\(arrayLinkLocal)%porta", "--port", "9507", "--stop-file", lab.stopFile(), "--expect", "3"])
        defer { receiver.stop() }
        _ = try lab.probeReport(.host, ["udp-send", "--from", "\(hostLinkLocal)%sana0", "--to", "\(arrayLinkLocal)%sana0", "--port", "9507", "--count", "3"])
        #expect(try receiver.stopAndFinish()["received"] as? Int == 3, "link-local traffic on sana0 did not pass")
        #expect(try lab.counter("mgmt0", "egress", "foreign_source", "drop") == 0)
    }

    @Test func auditCountsTheLeakAndDropsNothing() throws {
        let lab = try Lab("audit")
        defer { lab.close() }
        let (b, pb) = (lab.host["sanb0"]!, lab.array["portb"]!)
        try lab.apply(try lab.policy("audit.yaml", mode: "audit"))
        try lab.misroute()
        #expect(try lab.udp(.host, b.ipv4, .array, pb.ipv4, port: 9510, count: 5) == 5)
        #expect(try lab.udp(.host, b.ipv6, .array, pb.ipv6, port: 9510, count: 4) == 4)
        #expect(try lab.counter("sana0", "egress", "foreign_source", "would_drop") == 9)
        let rows = try lab.json("stats")["counters"] as? [[String: Any]] ?? []
        #expect(!rows.contains { $0["action"] as? String == "drop" }, "audit dropped something: \(rows)")
    }

    @Test func redirectSendsTheSharedSubnetLeakThroughTheOwningNIC() throws {
        let lab = try Lab("redir", variant: .sharedSubnet)
        defer { lab.close() }
        let (b, pb) = (lab.host["sanb0"]!, lab.array["portb"]!)

        // The kernel routes the whole shared subnet through sana0: SAN-B's
        // conversation with the array crosses fabric A.
        var connected = false
        var crossing = try frames(lab, from: b.ipv4, to: pb.ipv4) { connected = try lab.tcp(b.ipv4, pb.ipv4, port: 9520) }
        #expect(connected)
        #expect(crossing.fabricA > 0 && crossing.fabricB == 0, "\(crossing)")

        try lab.apply(try lab.policy("redirect.yaml", action: "redirect"))
        var received = 0
        crossing = try frames(lab, from: b.ipv4, to: pb.ipv4) {
            connected = try lab.tcp(b.ipv4, pb.ipv4, port: 9521)
            received = try lab.udp(.host, b.ipv4, .array, pb.ipv4, port: 9522, count: 5)
        }
        #expect(connected, "the application's connection broke under redirect")
        #expect(received == 5)
        #expect(crossing.fabricA == 0 && crossing.fabricB >= 5, "\(crossing)")
        #expect(try lab.counter("sana0", "egress", "foreign_source", "redirect") >= 5)

        // The owning NIC goes down: nowhere to redirect, so the leak drops.
        try lab.must(.host, ["ip", "link", "set", "sanb0", "down"])
        try lab.apply(try lab.policy("redirect.yaml", action: "redirect"))
        let before = try lab.counter("sana0", "egress", "redirect_unavailable", "drop")
        #expect(try lab.udp(.host, b.ipv4, .array, pb.ipv4, port: 9523, count: 4) == 0)
        #expect(try lab.counter("sana0", "egress", "redirect_unavailable", "drop") - before == 4)
    }

    @Test func ingressEnforcesTheStrongHostModel() throws {
        let lab = try Lab("ingress")
        defer { lab.close() }
        let (a, b, pa, pb) = (lab.host["sana0"]!, lab.host["sanb0"]!, lab.array["porta"]!, lab.array["portb"]!)
        // The array reaches the host's SAN-B address through fabric A, and
        // knows the host's neighbours, so every test packet reaches the wire.
        try lab.must(.array, ["ip", "route", "add", "\(b.ipv4)/32", "dev", "porta"])
        for address in [a.ipv4, b.ipv4, a.ipv6] {
            try lab.must(.array, ["ip", "neigh", "replace", address, "lladdr", a.mac, "dev", "porta", "nud", "permanent"])
        }
        func weakHost() throws -> Int { try lab.udp(.array, pa.ipv4, .host, b.ipv4, port: 9530) }
        func arpFlux() throws -> Int {
            try lab.probeReport(.array, ["arp-request", "--dev", "porta", "--sender", pa.ipv4, "--target", b.ipv4])["replies"] as? Int ?? -1
        }
        func spoofed() throws -> Int {
            try lab.udp(.array, pb.ipv4, .host, a.ipv4, port: 9531) + lab.udp(.array, pb.ipv6, .host, a.ipv6, port: 9532)
        }
        // Linux alone: the weak host model accepts it all.
        #expect(try weakHost() == 3)
        #expect(try arpFlux() == 3)
        #expect(try spoofed() == 6)

        try lab.apply(try lab.policy("enforce.yaml"))
        let destination = try lab.counter("sana0", "ingress", "foreign_destination", "drop")
        #expect(try weakHost() == 0)
        #expect(try lab.counter("sana0", "ingress", "foreign_destination", "drop") - destination == 3)
        #expect(try arpFlux() == 0)
        #expect(try lab.counter("sana0", "ingress", "foreign_destination", "drop") - destination == 6)
        let source = try lab.counter("sana0", "ingress", "foreign_source", "drop")
        #expect(try spoofed() == 0)
        #expect(try lab.counter("sana0", "ingress", "foreign_source", "drop") - source == 6)
        // The array's own traffic on fabric A still arrives.
        #expect(try lab.udp(.array, pa.ipv4, .host, a.ipv4, port: 9533) == 3)
    }

    @Test func iscsiSessionsOnBothFabricsSurviveAndTheLeakDoesNot() throws {
        let lab = try Lab("iscsi")
        defer { lab.close() }
        let started = try Command.run([Lab.script("lab"), "iscsi", lab.name])
        try #require(started.status == 0, "\(started.output)")
        let iqn = started.output.split(separator: "\n").last.map(String.init) ?? ""
        let (pa, pb) = (lab.array["porta"]!, lab.array["portb"]!)
        let lunA = "iscsi://\(pa.ipv4)/\(iqn)/1", lunB = "iscsi://\(pb.ipv4)/\(iqn)/1"

        try lab.apply(try lab.policy("enforce.yaml"))
        for lun in [lunA, lunB] {
            let inquiry = try lab.run(.host, ["timeout", "10", "iscsi-inq", lun])
            #expect(inquiry.status == 0 && inquiry.output.contains("DIRECT_ACCESS"), "\(lun): \(inquiry.output)")
        }

        // A session on SAN-A keeps reading while a misroute breaks SAN-B's path.
        let perf = try lab.probe(.host, ["interrupt-after", "6", "iscsi-perf", "-m", "4", lunA], ready: false)
        try lab.misroute()
        let before = try lab.counter("sana0", "egress", "foreign_source", "drop")
        let leaked = try lab.run(.host, ["timeout", "3", "iscsi-inq", lunB])
        #expect(leaked.status != 0, "the SAN-B session crossed SAN-A: \(leaked.output)")
        #expect(try lab.counter("sana0", "egress", "foreign_source", "drop") > before)
        let output = try perf.finish()["output"] as? String ?? ""
        let averages = output.components(separatedBy: "iops average ").dropFirst().compactMap { Int($0.prefix { $0.isNumber }) }
        #expect((averages.last ?? 0) > 0, "the SAN-A session stalled: \(output.suffix(400))")
        #expect(!output.localizedCaseInsensitiveContains("reconnect"), "\(output.suffix(400))")
    }

    // MARK: helpers

    /// IP frames from `source` to `destination` seen on each fabric's cable to
    /// the host while `body` runs.
    func frames(_ lab: Lab, from source: String, to destination: String, during body: () throws -> Void) throws -> (fabricA: Int, fabricB: Int) {
        // The sniffers count until the body is done, not until a guessed silence.
        let onA = try lab.probe(.fabricA, ["sniff", "--dev", "tohost", "--src", source, "--dst", destination, "--stop-file", lab.stopFile()])
        let onB = try lab.probe(.fabricB, ["sniff", "--dev", "tohost", "--src", source, "--dst", destination, "--stop-file", lab.stopFile()])
        defer { onA.stop(); onB.stop() }
        try body()
        return (try onA.stopAndFinish()["frames"] as? Int ?? -1, try onB.stopAndFinish()["frames"] as? Int ?? -1)
    }

    func linkLocal(_ lab: Lab, _ role: Lab.Role, _ interface: String) throws -> String {
        let shown = try lab.run(role, ["ip", "-j", "-6", "addr", "show", "dev", interface, "scope", "link"]).output
        let links = try JSONSerialization.jsonObject(with: Data(shown.utf8)) as? [[String: Any]] ?? []
        let address = (links.first?["addr_info"] as? [[String: Any]])?.lazy.compactMap { $0["local"] as? String }.first
        return try #require(address, "no link-local address on \(interface): \(shown)")
    }
}
