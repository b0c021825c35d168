import Foundation
import Testing

/// The dry-run against the kernel: the same lab traffic, enforced in audit
/// mode and captured by real tcpdump, must give the dry-run exactly the
/// kernel's counters, interface by interface, reason by reason.
@Suite("Kernel tier: dry-run fidelity", .enabled(if: KernelGate.enabled, KernelGate.skipMessage), .serialized)
struct DryRunFidelityTests {
    typealias Cell = String

    /// Counter rows of the fabric interfaces, keyed "interface direction reason action".
    func cells(_ report: [String: Any]) -> [Cell: (packets: Int, bytes: Int)] {
        var result: [Cell: (packets: Int, bytes: Int)] = [:]
        for row in report["counters"] as? [[String: Any]] ?? [] {
            let interface = row["interface"] as? String ?? ""
            guard interface == "sana0" || interface == "sanb0" else { continue }
            let key = [interface, row["direction"], row["reason"], row["action"]].map { "\($0 ?? "")" }.joined(separator: " ")
            result[key] = (row["packets"] as? Int ?? 0, row["bytes"] as? Int ?? 0)
        }
        return result
    }

    /// tcpdump in the lab host's namespace, writing `file`; returns once it is listening.
    func startCapture(_ lab: Lab, _ arguments: [String], file: String) throws -> Process {
        let log = file + ".log"
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["ip", "netns", "exec", lab.host.name, "tcpdump", "--immediate-mode", "-U", "-n", "-w", file] + arguments
        _ = FileManager.default.createFile(atPath: log, contents: nil)
        process.standardError = try FileHandle(forWritingTo: URL(fileURLWithPath: log))
        process.standardOutput = FileHandle.nullDevice
        try process.run()
        let deadline = Date().addingTimeInterval(10)
        while !((try? String(contentsOfFile: log, encoding: .utf8))?.contains("listening on") ?? false) {
            guard Date() < deadline, process.isRunning else { throw Namespace.NamespaceError(message: "tcpdump did not start") }
            usleep(20_000)
        }
        return process
    }

    /// Processes started from the test runner inherit a signal mask that blocks
    /// SIGINT, so tcpdump is killed outright; -U has written every packet already.
    func stopCapture(_ process: Process) {
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
    }

    @Test func dryRunEqualsKernelCountersInAuditMode() throws {
        let lab = try Lab("dry")
        defer { lab.close() }
        // No IPv6: router solicitations and MLD reports would otherwise fall
        // between the counter snapshots and the capture window.
        for namespace in [lab.host, lab.peer] {
            _ = try namespace.run(["sysctl", "-qw", "net.ipv6.conf.all.disable_ipv6=1"])
        }
        let audit = Lab.policy.replacingOccurrences(
            of: "management: [mgmt0]", with: "management: [mgmt0]\negress: { mode: audit }\ningress: { mode: audit }")
        let policy = try lab.write("audit.yaml", audit)
        let enforcing = try lab.write("enforce.yaml", Lab.policy)
        let applied = try lab.fabricguard("apply", "--policy", policy)
        #expect(applied.status == 0, "\(applied.output)")

        let anyCapture = lab.directory.appendingPathComponent("any.pcap").path
        let egressCapture = lab.directory.appendingPathComponent("sana0-out.pcap").path
        let tcpdumpAny = try startCapture(lab, ["-i", "any"], file: anyCapture)
        let tcpdumpOut = try startCapture(lab, ["-i", "sana0", "-Q", "out"], file: egressCapture)
        let before = cells(try lab.json("stats"))

        // Own traffic on both fabrics, a SAN-B source leaving SAN-A (would drop in audit),
        // and a SAN-B-sourced packet arriving on SAN-A from the peer.
        #expect(try lab.udp(from: "10.1.0.10", to: "10.1.0.1", port: 9401, count: 5) == 5)
        #expect(try lab.udp(from: "10.2.0.10", to: "10.2.0.1", port: 9402, count: 4) == 4)
        #expect(try lab.udp(from: "10.2.0.10", to: "10.1.0.1", port: 9403, count: 3) == 3)
        _ = try lab.peer.run([Lab.script("udp-probe"), "send", "--from", "10.2.0.1", "--to", "10.1.0.10", "--port", "9404", "--count", "2"])

        let after = cells(try lab.json("stats"))
        var kernel: [Cell: (packets: Int, bytes: Int)] = [:]
        for (cell, value) in after {
            let earlier = before[cell] ?? (0, 0)
            if value.packets != earlier.packets { kernel[cell] = (value.packets - earlier.packets, value.bytes - earlier.bytes) }
        }
        // tcpdump writes what it has read; poll until the capture holds as many
        // fabric frames as the kernel judged, then stop it.
        let expected = kernel.values.reduce(0) { $0 + $1.packets }
        let deadline = Date().addingTimeInterval(10)
        while Date() < deadline {
            let sofar = (try? lab.json("dry-run", "--policy", policy, "--pcap", anyCapture)).map { cells($0).values.reduce(0) { $0 + $1.packets } }
            if sofar ?? 0 >= expected { break }
            usleep(50_000)
        }
        stopCapture(tcpdumpAny)
        stopCapture(tcpdumpOut)

        #expect(kernel["sana0 egress foreign_source would_drop"]?.packets == 3, "\(kernel)")
        #expect(kernel["sana0 ingress foreign_source would_drop"]?.packets == 2, "\(kernel)")

        // -i any (Linux cooked v2): no flags needed, the capture names interface and direction.
        let dry = try lab.json("dry-run", "--policy", policy, "--pcap", anyCapture)
        #expect(dry["link_type"] as? String == "LINUX_SLL2")
        let judged = cells(dry)
        #expect(Set(judged.keys) == Set(kernel.keys), "dry-run \(judged)\nkernel \(kernel)")
        for (cell, value) in kernel {
            #expect(judged[cell]?.packets == value.packets && judged[cell]?.bytes == value.bytes, "\(cell): dry-run \(String(describing: judged[cell])), kernel \(value)")
        }
        let flows = dry["top_flows"] as? [[String: Any]] ?? []
        #expect(flows.contains { $0["source"] as? String == "10.2.0.10" && $0["destination"] as? String == "10.1.0.1" && $0["packets"] as? Int == 3 })

        // A per-interface Ethernet capture of sana0's egress, told where it was taken.
        let egress = try lab.json("dry-run", "--policy", policy, "--pcap", egressCapture, "--interface", "sana0", "--direction", "egress")
        #expect(egress["link_type"] as? String == "EN10MB")
        let egressCells = cells(egress)
        for (cell, value) in kernel where cell.hasPrefix("sana0 egress") {
            #expect(egressCells[cell]?.packets == value.packets, "\(cell): \(String(describing: egressCells[cell])) vs \(value)")
        }
        let missingFlags = try lab.offline(["dry-run", "--policy", policy, "--pcap", egressCapture])
        #expect(missingFlags.status == 2 && missingFlags.output.contains("give --interface NAME and --direction"))

        // The same capture gates a stricter policy: enforce would drop, so exit 3.
        let gated = try lab.offline(["dry-run", "--policy", enforcing, "--pcap", anyCapture, "--fail-on-violation"])
        #expect(gated.status == 3, "\(gated.output)")
        #expect(try lab.offline(["dry-run", "--policy", policy, "--pcap", anyCapture, "--fail-on-violation"]).status == 0)
    }
}
