import Foundation
import Testing

/// apply / status / stats / unload for real, in a throwaway two-namespace lab.
@Suite("Kernel tier: lifecycle", .enabled(if: KernelGate.enabled, KernelGate.skipMessage), .serialized)
struct LifecycleTests {
    /// Both ways of attaching the tc hook: tcx links (this kernel's default)
    /// and the clsact filters older kernels get.
    @Test(arguments: ["tcx", "clsact"])
    func applyAdoptRejectSurviveUnload(tcAttach: String) throws {
        let lab = try Lab("life")
        defer { lab.close() }
        let policy = try lab.policy("policy.yaml")

        // apply: hooks on both fabric NICs, none on management; generation 1.
        let first = try lab.fabricguard("apply", "--policy", policy, "--tc-attach", tcAttach)
        #expect(first.status == 0, "\(first.output)")
        var status = try lab.json("status")
        #expect(status["generation"] as? Int == 1)
        let interfaces = try #require(status["interfaces"] as? [[String: Any]])
        #expect(interfaces.map { $0["name"] as? String } == ["sana0", "sanb0"])
        for interface in interfaces {
            let hooks = (interface["hooks"] as? [[String: Any]])?.compactMap { $0["hook"] as? String }
            #expect(hooks == ["tc-egress", "xdp"], "\(interface)")
            let attach = (interface["hooks"] as? [[String: Any]])?.compactMap { $0["attach"] as? String }
            #expect(attach == [tcAttach, "link"], "\(interface)")
            #expect((interface["missing"] as? [Any])?.isEmpty == true)
        }
        #expect(try lab.ourPrograms("mgmt0") == 0)
        // tcx needs no qdisc; clsact mode makes one.
        let qdisc = try lab.run(.host, ["tc", "qdisc", "show", "dev", "sana0"]).output
        #expect(qdisc.contains("clsact") == (tcAttach == "clsact"), "\(qdisc)")
        let digest = status["digest"] as? String

        // apply again: adopted, nothing duplicated, generation 2, same digest.
        #expect(try lab.fabricguard("apply", "--policy", policy, "--tc-attach", tcAttach).status == 0)
        status = try lab.json("status")
        #expect(status["generation"] as? Int == 2)
        #expect(status["digest"] as? String == digest)
        for interface in ["sana0", "sanb0"] {
            #expect(try lab.tcFilters(interface, "egress") == 1)
            #expect(try lab.ourPrograms(interface) == 2)
        }

        // A broken policy: exit 2, the running generation untouched.
        let broken = try lab.write("broken.yaml", String(contentsOfFile: policy, encoding: .utf8).replacingOccurrences(of: "10.2.0.0/24", with: "10.2.0.1/24"))
        let rejected = try lab.fabricguard("apply", "--policy", broken)
        #expect(rejected.status == 2)
        #expect(rejected.output.contains("host bits are set"))
        status = try lab.json("status")
        #expect(status["generation"] as? Int == 2 && status["digest"] as? String == digest)

        // The apply process has exited: enforcement goes on. Own sources pass,
        // a SAN-B source leaving the SAN-A NIC is dropped and counted.
        #expect(try lab.udp(.host, "10.1.0.10", .array, "10.1.0.100", port: 9301) == 3)
        #expect(try lab.udp(.host, "10.2.0.10", .array, "10.1.0.100", port: 9302) == 0)
        let stats = try #require(try lab.json("stats")["counters"] as? [[String: Any]])
        let dropped = stats.first {
            $0["interface"] as? String == "sana0" && $0["direction"] as? String == "egress"
                && $0["reason"] as? String == "foreign_source" && $0["action"] as? String == "drop"
        }
        #expect((dropped?["packets"] as? Int ?? 0) >= 1, "\(stats)")

        // unload: no programs, filters or pins left; a second unload is a no-op.
        let unloaded = try lab.fabricguard("unload")
        #expect(unloaded.status == 0 && unloaded.output.contains("unloaded"))
        for interface in ["sana0", "sanb0"] {
            #expect(try lab.ourPrograms(interface) == 0)
            #expect(try lab.tcFilters(interface, "egress") == 0)
            #expect(try !lab.run(.host, ["tc", "qdisc", "show", "dev", interface]).output.contains("clsact"), "a qdisc left on \(interface)")
        }
        #expect(!FileManager.default.fileExists(atPath: lab.pinDir))
        #expect(try lab.fabricguard("unload").output.contains("nothing to unload"))
        let nothing = try lab.fabricguard("status", "--json")
        #expect(nothing.status == 3, "status with nothing applied must exit 3: \(nothing.output)")
        #expect(try lab.status()["installed"] as? Bool == false)
        #expect(!FileManager.default.fileExists(atPath: lab.pinDir), "a second unload or status left a pin directory behind")
    }

    @Test func ingressHookTCAndModeOff() throws {
        let lab = try Lab("hook")
        defer { lab.close() }
        let policy = try lab.write("off.yaml", String(contentsOfFile: try lab.policy("policy.yaml"), encoding: .utf8)
            .replacingOccurrences(of: "interfaces: [sanb0]", with: "interfaces: [sanb0]\n    egress: { mode: off }"))
        let applied = try lab.fabricguard("apply", "--policy", policy, "--ingress-hook", "tc")
        #expect(applied.status == 0, "\(applied.output)")
        let status = try lab.json("status")
        let hooks = try #require(status["interfaces"] as? [[String: Any]]).map { interface in
            (interface["name"] as? String ?? "", (interface["hooks"] as? [[String: Any]])?.compactMap { $0["hook"] as? String } ?? [])
        }
        #expect(hooks.first { $0.0 == "sana0" }?.1 == ["tc-egress", "tc-ingress"])
        #expect(hooks.first { $0.0 == "sanb0" }?.1 == ["tc-ingress"])
        // Back to XDP: the tc ingress filter goes, XDP comes, nothing doubled.
        #expect(try lab.fabricguard("apply", "--policy", policy).status == 0)
        #expect(try lab.tcFilters("sana0", "ingress") == 0)
        #expect(try lab.ourPrograms("sana0") == 2)
    }

    /// The programs load on threads of their own, sharing the maps of one more instance
    /// (ProgramSet); with one CPU in the affinity mask they load in turn on one thread.
    /// Either way every program sees the policy: a misrouted leak is dropped and counted
    /// by tc egress, and the XDP program is attached beside it.
    @Test(arguments: [false, true])
    func theProgramsShareTheMapsLoadedInParallelOrInTurn(oneCPU: Bool) throws {
        let lab = try Lab(oneCPU ? "onecpu" : "twocpu", ipv4Only: true)
        defer { lab.close() }
        let apply = lab.agentCommand(["apply", "--policy", try lab.policy("enforce.yaml")])
        let applied = try Command.run((oneCPU ? ["taskset", "-c", "0"] : []) + apply)
        #expect(applied.status == 0, "\(applied.output)")
        #expect(try lab.ourPrograms("sana0") == 2)
        try lab.misroute()
        let (b, pb) = (lab.host["sanb0"]!, lab.array["portb"]!)
        _ = try lab.probeReport(.host, ["udp-send", "--from", b.ipv4, "--to", pb.ipv4, "--port", "9781", "--count", "3"])
        #expect(try lab.counter("sana0", "egress", "foreign_source", "drop") == 3)
    }

    /// The default hook on the lab's veths is tc ingress (XDP costs more there), read
    /// from the link type netlink reports; an unchanged re-apply keeps it.
    @Test func autoIngressHookTakesTCOnVeth() throws {
        let lab = try Lab("auto")
        defer { lab.close() }
        let inventory = try lab.json("inventory")
        let kinds = (inventory["interfaces"] as? [[String: Any]] ?? []).reduce(into: [String: String]()) {
            $0[$1["name"] as? String ?? ""] = $1["kind"] as? String
        }
        #expect(kinds["sana0"] == "veth" && kinds["lo"] == nil, "\(kinds)")
        let policy = try lab.policy("policy.yaml")
        #expect(try lab.fabricguard("apply", "--policy", policy, "--ingress-hook", "auto").status == 0)
        func hooks() throws -> [String: [String]] {
            try #require(lab.json("status")["interfaces"] as? [[String: Any]]).reduce(into: [:]) { hooks, interface in
                hooks[interface["name"] as? String ?? ""] = (interface["hooks"] as? [[String: Any]])?.compactMap { $0["hook"] as? String }
            }
        }
        #expect(try hooks()["sana0"] == ["tc-egress", "tc-ingress"])
        #expect(try lab.tcFilters("sana0", "ingress") == 1)
        let before = try lab.tcx("sana0", "ingress").map { "\($0["id"] ?? "")/\($0["link_id"] ?? "")" }
        #expect(try lab.fabricguard("apply", "--policy", policy, "--ingress-hook", "auto").status == 0)
        #expect(try hooks()["sana0"] == ["tc-egress", "tc-ingress"])
        #expect(try lab.tcx("sana0", "ingress").map { "\($0["id"] ?? "")/\($0["link_id"] ?? "")" } == before)
    }

    /// Every map lookup of the entry points is one the verifier inlines. clang may
    /// sink two lookups of different maps into one call site (it did, for the ifindex
    /// array and the far-ifindex hash, after a branch hint elsewhere); the verifier
    /// then keeps the generic helper, an indirect call that cost 66 ns a frame under
    /// real traffic, three times the whole decision. bpftool names that helper
    /// `bpf_map_lookup_elem` where an inlined hash lookup shows `__htab_map_lookup_elem`.
    @Test func theEntryPointsInlineEveryMapLookup() throws {
        let lab = try Lab("inline", ipv4Only: true)
        defer { lab.close() }
        let policy = try lab.policy("policy.yaml")
        var checked: Set<String> = []
        for hook in ["tc", "xdp"] {
            #expect(try lab.fabricguard("apply", "--policy", policy, "--ingress-hook", hook).status == 0)
            let interfaces = try #require(lab.json("status")["interfaces"] as? [[String: Any]])
            for state in interfaces.flatMap({ $0["hooks"] as? [[String: Any]] ?? [] }) {
                let (name, id) = (state["hook"] as? String ?? "?", state["program_id"] as? Int ?? 0)
                let dump = try Command.run(["bpftool", "prog", "dump", "xlated", "id", "\(id)"])
                #expect(dump.status == 0 && dump.output.contains("__htab_map_lookup_elem"), "\(name) \(id): \(dump.output.prefix(400))")
                let generic = dump.output.split(separator: "\n").filter { $0.contains("call bpf_map_lookup_elem#") }
                #expect(generic.isEmpty, "\(name) calls the generic lookup helper: \(generic)")
                checked.insert(name)
            }
        }
        #expect(checked == ["tc-egress", "tc-ingress", "xdp"], "\(checked)")
    }
}
