import Foundation
import Testing

/// The capabilities the kernel verbs need, proved with `setpriv` as an operator
/// (or a unit's AmbientCapabilities=) would drop them: CAP_BPF and
/// CAP_NET_ADMIN run the whole cycle, the programs loaded and verified without
/// CAP_PERFMON; with either of them missing the error names it.
@Suite("Kernel tier: least privilege", .enabled(if: KernelGate.enabled, KernelGate.skipMessage), .serialized)
struct PrivilegeTests {
    static let needed = ["bpf", "net_admin"]

    /// fabricguard in the lab host's namespace with only `capabilities` (root's uid, the rest dropped).
    func capped(_ lab: Lab, _ capabilities: [String], _ arguments: [String]) throws -> Command.Result {
        let set = "-all" + capabilities.map { ",+\($0)" }.joined()
        return try Command.run(
            ["nsenter", "--net=/run/netns/\(lab.namespace(.host))", "setpriv", "--inh-caps=\(set)", "--ambient-caps=\(set)",
             "--bounding-set=\(set)", Command.built("fabricguard")] + arguments + ["--pin-dir", lab.pinDir])
    }

    /// The effective set `capped` leaves, read by a process started the same way.
    func effectiveSet(_ lab: Lab, _ capabilities: [String]) throws -> UInt64? {
        let set = "-all" + capabilities.map { ",+\($0)" }.joined()
        let status = try Command.run(
            ["nsenter", "--net=/run/netns/\(lab.namespace(.host))", "setpriv", "--inh-caps=\(set)", "--ambient-caps=\(set)",
             "--bounding-set=\(set)", "cat", "/proc/self/status"])
        let line = status.output.split(separator: "\n").first { $0.hasPrefix("CapEff:") }
        return line.flatMap { UInt64($0.dropFirst("CapEff:".count).trimmingCharacters(in: .whitespaces), radix: 16) }
    }

    @Test func theTwoCapabilitiesRunApplySwapStatsAndUnload() throws {
        let lab = try Lab("caps", ipv4Only: true)
        defer { lab.close() }
        // Exactly CAP_BPF (39) and CAP_NET_ADMIN (12): in particular no CAP_PERFMON (38)
        // and no CAP_SYS_ADMIN (21), which would let the verifier allow pointer leaks.
        #expect(try effectiveSet(lab, Self.needed) == (1 << 39 | 1 << 12))
        let (b, pb) = (lab.host["sanb0"]!, lab.array["portb"]!)
        let applied = try capped(lab, Self.needed, ["apply", "--policy", try lab.policy("enforce.yaml")])
        #expect(applied.status == 0, "\(applied.output)")
        try lab.misroute()
        _ = try lab.probeReport(.host, ["udp-send", "--from", b.ipv4, "--to", pb.ipv4, "--port", "9780", "--count", "3"])
        let stats = try capped(lab, Self.needed, ["stats", "--json"])
        #expect(stats.status == 0 && stats.output.contains("\"foreign_source\""), "\(stats.output)")
        #expect(try lab.counter("sana0", "egress", "foreign_source", "drop") == 3)
        let swapped = try capped(lab, Self.needed, ["apply", "--policy", try lab.policy("audit.yaml", mode: "audit")])
        #expect(swapped.status == 0 && swapped.output.contains("generation 2"), "\(swapped.output)")
        #expect(try capped(lab, Self.needed, ["status"]).status == 0)
        let unloaded = try capped(lab, Self.needed, ["unload"])
        #expect(unloaded.status == 0 && unloaded.output.contains("unloaded"), "\(unloaded.output)")
        #expect(try lab.ourPrograms("sana0") == 0)
    }

    @Test(arguments: needed)
    func withOneCapabilityLessTheErrorNamesIt(_ missing: String) throws {
        let lab = try Lab("caps\(missing.prefix(3))", ipv4Only: true)
        defer { lab.close() }
        let result = try capped(lab, Self.needed.filter { $0 != missing }, ["apply", "--policy", try lab.policy("enforce.yaml")])
        #expect(result.status == 1, "\(result.output)")
        #expect(result.output.contains("this process lacks CAP_\(missing.uppercased())"), "\(result.output)")
        #expect(!FileManager.default.fileExists(atPath: lab.pinDir), "a refused apply left its pin directory")
    }
}
