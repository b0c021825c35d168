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
    func startCapture(_ lab: Lab, _ arguments: [String], file: String) throws -> Child {
        let log = file + ".log"
        let tcpdump = try Child(["ip", "netns", "exec", lab.namespace(.host), "tcpdump", "--immediate-mode", "-U", "-n", "-w", file] + arguments,
                                output: .file(log))
        let deadline = Date().addingTimeInterval(10)
        while !((try? String(contentsOfFile: log, encoding: .utf8))?.contains("listening on") ?? false) {
            guard Date() < deadline, tcpdump.isRunning else { throw Namespace.NamespaceError(message: "tcpdump did not start") }
            usleep(20_000)
        }
        return tcpdump
    }

    /// SIGINT, as at a terminal: tcpdump flushes and exits (-U wrote every packet already).
    func stopCapture(_ tcpdump: Child) {
        tcpdump.signal(SIGINT)
        tcpdump.wait()
    }

    @Test func dryRunEqualsKernelCountersInAuditMode() throws {
        // No IPv6: router solicitations and MLD reports would otherwise fall
        // between the counter snapshots and the capture window.
        let lab = try Lab("dry", ipv4Only: true)
        defer { lab.close() }
        let policy = try lab.policy("audit.yaml", mode: "audit")
        let enforcing = try lab.policy("enforce.yaml")
        let applied = try lab.fabricguard("apply", "--policy", policy)
        #expect(applied.status == 0, "\(applied.output)")

        let anyCapture = lab.directory.appendingPathComponent("any.pcap").path
        let egressCapture = lab.directory.appendingPathComponent("sana0-out.pcap").path
        let tcpdumpAny = try startCapture(lab, ["-i", "any"], file: anyCapture)
        let tcpdumpOut = try startCapture(lab, ["-i", "sana0", "-Q", "out"], file: egressCapture)
        // The same traffic with a 20-byte snaplen: the cooked header alone, every IP header cut.
        let cutCapture = lab.directory.appendingPathComponent("any-s20.pcap").path
        let tcpdumpCut = try startCapture(lab, ["-i", "any", "-s", "20"], file: cutCapture)
        let before = cells(try lab.json("stats"))

        // Own traffic on both fabrics, a SAN-B source leaving SAN-A (would drop in audit),
        // and a SAN-B-sourced packet arriving on SAN-A from the array.
        #expect(try lab.udp(.host, "10.1.0.10", .array, "10.1.0.100", port: 9401, count: 5) == 5)
        #expect(try lab.udp(.host, "10.2.0.10", .array, "10.2.0.100", port: 9402, count: 4) == 4)
        #expect(try lab.udp(.host, "10.2.0.10", .array, "10.1.0.100", port: 9403, count: 3) == 3)
        #expect(try lab.udp(.array, "10.2.0.100", .host, "10.1.0.10", port: 9404, count: 2) == 2)

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
        stopCapture(tcpdumpCut)

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
        #expect(flows.contains { $0["source"] as? String == "10.2.0.10" && $0["destination"] as? String == "10.1.0.100" && $0["packets"] as? Int == 3 })

        // A per-interface Ethernet capture of sana0's egress, told where it was taken.
        let egress = try lab.json("dry-run", "--policy", policy, "--pcap", egressCapture, "--interface", "sana0", "--direction", "egress")
        #expect(egress["link_type"] as? String == "EN10MB")
        let egressCells = cells(egress)
        for (cell, value) in kernel where cell.hasPrefix("sana0 egress") {
            #expect(egressCells[cell]?.packets == value.packets, "\(cell): \(String(describing: egressCells[cell])) vs \(value)")
        }
        let missingFlags = try lab.fabricguard(["dry-run", "--policy", policy, "--pcap", egressCapture])
        #expect(missingFlags.status == 2 && missingFlags.output.contains("give --interface NAME and --direction"))

        // The same capture gates a stricter policy: enforce would drop, so exit 3.
        let gated = try lab.fabricguard(["dry-run", "--policy", enforcing, "--pcap", anyCapture, "--fail-on-violation"])
        #expect(gated.status == 3, "\(gated.output)")
        #expect(try lab.fabricguard(["dry-run", "--policy", policy, "--pcap", anyCapture, "--fail-on-violation"]).status == 0)

        // tcpdump -s 20: frames cut by the capture are counted apart, never judged malformed,
        // and do not fail the gate the full capture fails.
        let cut = try lab.json("dry-run", "--policy", enforcing, "--pcap", cutCapture)
        let truncated = cut["capture_truncated"] as? Int ?? 0
        #expect(truncated >= expected, "\(cut)")
        #expect(!cells(cut).keys.contains { $0.contains("malformed") }, "\(cut)")
        #expect((cut["verdicts"] as? [String: Int])?["drop"] == 0, "\(cut)")
        let cutGate = try lab.fabricguard(["dry-run", "--policy", enforcing, "--pcap", cutCapture, "--fail-on-violation"])
        #expect(cutGate.status == 0, "\(cutGate.output)")

        // Raw IP captures of the same egress frames, made from tcpdump's Ethernet capture by
        // real tools: tcpdump keeps the IP frames (ARP has no raw IP form), editcap chops the
        // link header (-L: the frame length too) and sets the link type. Judged exactly alike.
        let ipOnly = lab.directory.appendingPathComponent("sana0-out-ip.pcap").path
        let filtered = try Command.run(["tcpdump", "-r", egressCapture, "-w", ipOnly, "ip"])
        #expect(filtered.status == 0, "\(filtered.output)")
        let ethernet = cells(try lab.json("dry-run", "--policy", policy, "--pcap", ipOnly, "--interface", "sana0", "--direction", "egress"))
        #expect(ethernet["sana0 egress foreign_source would_drop"]?.packets == 3, "\(ethernet)")
        for (type, name) in [("rawip", "RAW"), ("rawip4", "IPV4")] {
            let raw = lab.directory.appendingPathComponent("sana0-out-\(type).pcapng").path
            let converted = try Command.run(["editcap", "-L", "-C", "14", "-T", type, ipOnly, raw])
            #expect(converted.status == 0, "\(converted.output)")
            let report = try lab.json("dry-run", "--policy", policy, "--pcap", raw, "--interface", "sana0", "--direction", "egress")
            #expect(report["link_type"] as? String == name)
            #expect(report["capture_truncated"] as? Int == 0)
            let rawCells = cells(report)
            #expect(Set(rawCells.keys) == Set(ethernet.keys), "\(name): \(rawCells) vs \(ethernet)")
            for (cell, value) in ethernet {
                #expect(rawCells[cell]?.packets == value.packets && rawCells[cell]?.bytes == value.bytes,
                        "\(name) \(cell): \(String(describing: rawCells[cell])) vs \(value)")
            }
        }
    }
}
