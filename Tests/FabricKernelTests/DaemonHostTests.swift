import Foundation
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// `fabricguard run` following the host through netlink: NICs re-created and
/// renamed, a redirect target going down and up, addresses coming and going,
/// and a storm of unrelated interfaces. Nothing is re-applied by hand: every
/// change must reach the kernel through the daemon's own loop.
@Suite("Kernel tier: the daemon follows the host", .enabled(if: KernelGate.enabled, KernelGate.skipMessage), .serialized)
struct DaemonHostTests {
    @Test func aReCreatedOrRenamedNICGetsItsHooksBackBeforeItCanLeak() throws {
        let lab = try Lab("recreate", ipv4Only: true)
        defer { lab.close() }
        let (b, pb) = (lab.host["sanb0"]!, lab.array["portb"]!)
        let daemon = try DaemonProcess(lab, policy: lab.policy("enforce.yaml"))
        defer { daemon.stop() }
        try daemon.waitUntilEnforcing()
        try lab.misroute()

        // A SAN-B-sourced stream misrouted out of sana0, and a sniffer on fabric A's
        // port towards the array counting every SAN-B-sourced frame that gets
        // there (the host's cable, tohost, is re-created with sana0).
        let stop = lab.directory.appendingPathComponent("stop-\(UUID().uuidString)").path
        let sniffer = try lab.probe(.fabricA, ["sniff", "--dev", "toarray", "--src", b.ipv4, "--stop-file", stop])
        let leak = try lab.probe(.host, ["udp-send", "--from", b.ipv4, "--to", pb.ipv4, "--port", "9700", "--stop-file", stop,
                                         "--interval", "0.0005"], ready: false)
        var ifindexes: Set<Int> = []
        for round in 1...110 {
            if round % 11 == 0 {
                // A rename away is a policy interface going away; back, one appearing.
                try lab.must(.host, ["ip", "link", "set", "sana0", "down"])
                try lab.must(.host, ["ip", "link", "set", "sana0", "name", "sanax"])
                try lab.waitForStatus("sana0 to lose its hooks after the rename") { status in
                    !(status["interfaces"] as? [[String: Any]] ?? []).contains { $0["name"] as? String == "sana0" }
                }
                try lab.must(.host, ["ip", "link", "set", "sanax", "name", "sana0"])
            } else {
                // A driver reload: the NIC comes back with a new ifindex, still down.
                let recreated = try Command.run([Lab.script("lab"), "recreate", lab.name, "sana0", "--down"])
                try #require(recreated.status == 0, "\(recreated.output)")
            }
            let index = try lab.ifindex(.host, "sana0")
            ifindexes.insert(index)
            try lab.waitForStatus("hooks on sana0 (ifindex \(index)) in round \(round)") { status in
                lab.hooks(status, "sana0", ifindex: index) == 2
            }
            // Only now can the NIC carry anything: the stream finds its route again.
            try lab.must(.host, ["ip", "link", "set", "sana0", "up"])
            try lab.misroute()
        }
        FileManager.default.createFile(atPath: stop, contents: nil)
        let sent = try leak.finish()["sent"] as? Int ?? 0
        let leaked = try sniffer.finish()["frames"] as? Int ?? -1
        #expect(ifindexes.count >= 100, "the NIC was not re-created 100 times: \(ifindexes.count) ifindexes")
        #expect(sent > 1000, "the leaking stream barely ran: \(sent)")
        #expect(leaked == 0, "\(leaked) SAN-B frames crossed fabric A")
        #expect(try lab.tcFilters("sana0", "egress") == 1)
        #expect(try lab.status()["healthy"] as? Bool == true)

        // The capture works: with enforcement gone, the same stream reaches fabric A.
        #expect(daemon.stop() == 0)
        _ = try lab.fabricguard("unload")
        let control = try lab.probe(.fabricA, ["sniff", "--dev", "toarray", "--src", b.ipv4, "--stop-file", lab.stopFile(), "--expect", "3"])
        defer { control.stop() }
        _ = try lab.probeReport(.host, ["udp-send", "--from", b.ipv4, "--to", pb.ipv4, "--port", "9701", "--count", "3"])
        #expect(try control.stopAndFinish()["frames"] as? Int == 3)
    }

    @Test func aRedirectTargetGoingDownDropsAsUnavailableAndComingBackRedirects() throws {
        let lab = try Lab("redirdown", variant: .sharedSubnet)
        defer { lab.close() }
        let (b, pb) = (lab.host["sanb0"]!, lab.array["portb"]!)
        let daemon = try DaemonProcess(lab, policy: lab.policy("redirect.yaml", action: "redirect"))
        defer { daemon.stop() }
        try daemon.waitUntilEnforcing()
        #expect(try lab.udp(.host, b.ipv4, .array, pb.ipv4, port: 9710, count: 5) == 5)
        #expect(try lab.counter("sana0", "egress", "foreign_source", "redirect") >= 5)

        let generation = try lab.status()["generation"] as? Int ?? 0
        try lab.must(.host, ["ip", "link", "set", "sanb0", "down"])
        try lab.waitForStatus("the daemon to see sanb0 down") { status in
            (status["generation"] as? Int ?? 0) > generation
                && (status["problems"] as? [[String: Any]] ?? []).contains { $0["problem"] as? String == "redirect_target_down" }
        }
        let before = try lab.counter("sana0", "egress", "redirect_unavailable", "drop")
        #expect(try lab.udp(.host, b.ipv4, .array, pb.ipv4, port: 9711, count: 4) == 0)
        #expect(try lab.counter("sana0", "egress", "redirect_unavailable", "drop") - before == 4)

        try lab.must(.host, ["ip", "link", "set", "sanb0", "up"])
        try lab.waitForStatus("the daemon to see sanb0 up again") { $0["healthy"] as? Bool == true }
        let redirected = try lab.counter("sana0", "egress", "foreign_source", "redirect")
        #expect(try lab.udp(.host, b.ipv4, .array, pb.ipv4, port: 9712, count: 5) == 5)
        #expect(try lab.tcp(b.ipv4, pb.ipv4, port: 9713), "the SAN-B session does not work again after sanb0 came back")
        #expect(try lab.counter("sana0", "egress", "foreign_source", "redirect") - redirected >= 5)
        #expect(daemon.log.contains("cause=host"), "the changes were not followed from host events")
    }

    @Test func addressesComingAndGoingMoveTheStrongHostCheck() throws {
        let lab = try Lab("address", ipv4Only: true)
        defer { lab.close() }
        let (a, pa) = (lab.host["sana0"]!, lab.array["porta"]!)
        let extra = "10.2.0.11"
        // The array reaches the extra SAN-B address through fabric A (the weak host model's door).
        try lab.must(.array, ["ip", "route", "add", "\(extra)/32", "dev", "porta"])
        try lab.must(.array, ["ip", "neigh", "replace", extra, "lladdr", a.mac, "dev", "porta", "nud", "permanent"])
        let daemon = try DaemonProcess(lab, policy: lab.policy("enforce.yaml"))
        defer { daemon.stop() }
        try daemon.waitUntilEnforcing()

        func foreignDestinationDrops() throws -> Int { try lab.counter("sana0", "ingress", "foreign_destination", "drop") }
        func generation() throws -> Int { try lab.status()["generation"] as? Int ?? 0 }

        func send() throws { _ = try lab.probeReport(.array, ["udp-send", "--from", pa.ipv4, "--to", extra, "--port", "9720", "--count", "3"]) }

        // Not the host's address: the host ignores it, fabricguard has nothing to say.
        var before = try foreignDestinationDrops()
        try send()
        #expect(try foreignDestinationDrops() == before)

        var seen = try generation()
        try lab.must(.host, ["ip", "addr", "add", "\(extra)/24", "dev", "sanb0"])
        try lab.waitForStatus("the daemon to learn \(extra)") { ($0["generation"] as? Int ?? 0) > seen }
        // The weak host model would now accept it on the SAN-A NIC; the daemon made it a local of SAN-B.
        before = try foreignDestinationDrops()
        #expect(try lab.udp(.array, pa.ipv4, .host, extra, port: 9721) == 0)
        #expect(try foreignDestinationDrops() - before == 3)

        seen = try generation()
        try lab.must(.host, ["ip", "addr", "del", "\(extra)/24", "dev", "sanb0"])
        try lab.waitForStatus("the daemon to forget \(extra)") { ($0["generation"] as? Int ?? 0) > seen }
        before = try foreignDestinationDrops()
        try send()
        #expect(try foreignDestinationDrops() == before, "a removed address is still judged as the host's")
    }

    @Test func aNetlinkStormOfUnrelatedInterfacesKeepsTheDaemonCorrectAndItsMemoryFlat() throws {
        let lab = try Lab("storm", ipv4Only: true)
        defer { lab.close() }
        let (b, pb) = (lab.host["sanb0"]!, lab.array["portb"]!)
        let daemon = try DaemonProcess(lab, policy: lab.policy("enforce.yaml"))
        defer { daemon.stop() }
        try daemon.waitUntilEnforcing()
        let batch = lab.directory.appendingPathComponent("storm.batch").path

        /// 250 veth pairs (500 interfaces) created and deleted, twice per storm, while sana0 flaps.
        func storm(_ tag: String) throws {
            for pass in 0..<2 {
                let names = (0..<250).map { "st\(tag)\(pass)x\($0)" }
                try names.map { "link add \($0) type veth peer name \($0)p" }.joined(separator: "\n").write(toFile: batch, atomically: true, encoding: .utf8)
                try lab.must(.host, ["ip", "-batch", batch])
                try lab.must(.host, ["ip", "link", "set", "sana0", pass == 0 ? "down" : "up"])
                try names.map { "link del \($0)" }.joined(separator: "\n").write(toFile: batch, atomically: true, encoding: .utf8)
                try lab.must(.host, ["ip", "-batch", batch])
            }
        }
        let start = try lab.status()["generation"] as? Int ?? 0
        try storm("a")
        try lab.waitForStatus("the daemon to settle after the first storm") { $0["healthy"] as? Bool == true }
        let afterFirst = try daemon.residentKilobytes()
        try storm("b")
        try lab.waitForStatus("the daemon to settle after the second storm") { $0["healthy"] as? Bool == true }
        let afterSecond = try daemon.residentKilobytes()
        let swaps = (try lab.status()["generation"] as? Int ?? 0) - start

        #expect(daemon.isRunning)
        // 2000 interface events, 4 flaps of sana0: a bounded number of swaps, not one per event.
        #expect(swaps <= 40, "\(swaps) generation swaps for a storm of unrelated interfaces")
        #expect(afterSecond - afterFirst < 4096, "RSS grew from \(afterFirst) kB to \(afterSecond) kB over an equal storm")
        // Still correct: the misroute is dropped on the re-upped sana0.
        try lab.misroute()
        #expect(try lab.udp(.host, b.ipv4, .array, pb.ipv4, port: 9730) == 0)
    }
}

