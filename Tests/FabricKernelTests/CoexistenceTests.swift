import Foundation
import Testing

/// fabricguard as a neighbour: other tools' programs on the tc hooks (a tcx
/// link and a classic clsact filter) keep running and counting through its
/// apply, swap and unload; its place among them is the one asked for; another
/// tool's XDP program keeps XDP; two instances share a namespace.
@Suite("Kernel tier: coexistence with other programs", .enabled(if: KernelGate.enabled, KernelGate.skipMessage), .serialized)
struct CoexistenceTests {
    static let neighbourObject = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("bpf/testing/neighbour.bpf.o").path

    /// Another tool on sana0's two tc hooks: a counting tcx program and a
    /// counting clsact filter on each (the clsact qdisc is the tool's own).
    struct Neighbours {
        let lab: Lab
        /// Program ids: (hook, kind) -> id, kind "tcx" or "clsact".
        var programs: [String: Int] = [:]

        init(_ lab: Lab) throws {
            self.lab = lab
            let pins = "\(lab.pinDir)-neighbour"
            try FileManager.default.createDirectory(atPath: pins, withIntermediateDirectories: true)
            try lab.must(.host, ["tc", "qdisc", "add", "dev", "sana0", "clsact"])
            for direction in ["egress", "ingress"] {
                let attached = try Command.run(lab.hostCommand([
                    Command.built("fabricguard-selftest"), "--tcx-attach", "sana0", direction, CoexistenceTests.neighbourObject,
                    "\(pins)/\(direction)",
                ]))
                let report = try JSONSerialization.jsonObject(with: Data(attached.output.utf8)) as? [String: Any]
                programs["\(direction) tcx"] = try #require(report?["program_id"] as? Int, "tcx-attach: \(attached.output)")
                try lab.must(.host, ["tc", "filter", "add", "dev", "sana0", direction, "bpf", "da", "obj", CoexistenceTests.neighbourObject, "sec", "tc"])
                let shown = try lab.run(.host, ["tc", "filter", "show", "dev", "sana0", direction]).output
                let line = try #require(shown.split(separator: "\n").first { $0.contains("neighbour") }, "no classic filter: \(shown)")
                let words = line.split(separator: " ").map(String.init)
                let id = words.firstIndex(of: "id").flatMap { $0 + 1 < words.count ? Int(words[$0 + 1]) : nil }
                programs["\(direction) clsact"] = try #require(id, "no program id in: \(line)")
            }
        }

        /// Frames each neighbour program has seen.
        func seen() throws -> [String: Int] {
            try programs.mapValues { id in
                let shown = try Command.run(["bpftool", "-j", "prog", "show", "id", "\(id)"]).output
                let program = try JSONSerialization.jsonObject(with: Data(shown.utf8)) as? [String: Any]
                let map = try #require((program?["map_ids"] as? [Int])?.first, "program \(id) gone or without its map: \(shown)")
                let looked = try Command.run(["bpftool", "-j", "map", "lookup", "id", "\(map)", "key", "0", "0", "0", "0"]).output
                let entry = try JSONSerialization.jsonObject(with: Data(looked.utf8)) as? [String: Any]
                let bytes = (entry?["value"] as? [String] ?? []).compactMap { UInt8($0.dropFirst(2), radix: 16) }
                return bytes.reversed().reduce(0) { $0 << 8 | Int($1) }
            }
        }

        /// Both neighbours still on both hooks: the tcx programs listed by the
        /// kernel, the classic filters shown by tc.
        func attached() throws -> Bool {
            for direction in ["egress", "ingress"] {
                let tcx = try lab.tcx("sana0", direction).compactMap { $0["id"] as? Int }
                guard tcx.contains(programs["\(direction) tcx"]!) else { return false }
                let shown = try lab.run(.host, ["tc", "filter", "show", "dev", "sana0", direction]).output
                guard shown.contains("id \(programs["\(direction) clsact"]!) ") else { return false }
            }
            return true
        }

        /// A TCP exchange over sana0 (both hooks see it); every neighbour counts more.
        func expectStillCounting(_ when: String) throws {
            let before = try seen()
            #expect(try lab.tcp(lab.host["sana0"]!.ipv4, lab.array["porta"]!.ipv4, port: 9700), "\(when): the allowed connection failed")
            let after = try seen()
            for (program, count) in after {
                #expect(count > before[program] ?? 0, "\(when): the \(program) neighbour stopped seeing frames (\(before[program] ?? 0) -> \(count))")
            }
            #expect(try attached(), "\(when): a neighbour was detached")
        }
    }

    /// fabricguard's place on a tcx hook: 1-based, and the number of programs there.
    static func place(_ lab: Lab, _ direction: String) throws -> (Int, Int)? {
        let programs = try lab.tcx("sana0", direction)
        guard let index = programs.firstIndex(where: { ($0["name"] as? String ?? "").hasPrefix("fg_tc_") }) else { return nil }
        return (index + 1, programs.count)
    }

    /// The status JSON's hooks of sana0, by hook name.
    static func statusHooks(_ lab: Lab, _ pinDir: String? = nil) throws -> [String: [String: Any]] {
        let status = try lab.json(["status"] + (pinDir.map { ["--pin-dir", $0] } ?? []))
        let sana0 = (status["interfaces"] as? [[String: Any]] ?? []).first { $0["name"] as? String == "sana0" }
        let hooks = sana0?["hooks"] as? [[String: Any]] ?? []
        return Dictionary(hooks.map { ($0["hook"] as? String ?? "", $0) }, uniquingKeysWith: { first, _ in first })
    }

    @Test(arguments: ["tcx", "clsact"])
    func neighboursKeepWorkingThroughApplySwapAndUnload(mode: String) throws {
        let lab = try Lab("coex", ipv4Only: true)
        defer { lab.close() }
        let policies = [try lab.policy("one.yaml"), try lab.policy("two.yaml", extraPrefix: "10.77.0.0/16")]
        let neighbours = try Neighbours(lab)
        try neighbours.expectStillCounting("before fabricguard")

        try lab.apply(policies[0], "--ingress-hook", "tc", "--tc-attach", mode)
        var hooks = try Self.statusHooks(lab)
        for hook in ["tc-egress", "tc-ingress"] {
            #expect(hooks[hook]?["attach"] as? String == mode, "\(hook): \(hooks)")
        }
        if mode == "tcx" {
            // First by default, ahead of the neighbour: status and the kernel's list agree.
            for direction in ["egress", "ingress"] { #expect(try Self.place(lab, direction)! == (1, 2)) }
            #expect(hooks["tc-egress"]?["position"] as? Int == 1 && hooks["tc-egress"]?["hook_programs"] as? Int == 2, "\(hooks)")
            #expect(try lab.tcFilters("sana0", "egress") == 1)
        } else {
            #expect(try lab.run(.host, ["tc", "filter", "show", "dev", "sana0", "egress"]).output.contains("fg_tc_egress"))
        }
        try neighbours.expectStillCounting("after apply")
        // And fabricguard enforces among them: the SAN-B source leaving sana0 is dropped.
        #expect(try lab.udp(.host, lab.host["sanb0"]!.ipv4, .array, lab.array["porta"]!.ipv4, port: 9701) == 0)
        #expect(try lab.counter("sana0", "egress", "foreign_source", "drop") >= 3)

        // A swap: the programs stay where they were, the neighbours too.
        try lab.apply(policies[1], "--ingress-hook", "tc", "--tc-attach", mode)
        #expect(try lab.json("status")["generation"] as? Int == 2)
        if mode == "tcx" {
            for direction in ["egress", "ingress"] { #expect(try Self.place(lab, direction)! == (1, 2)) }
            // Last: behind the neighbour, still enforcing.
            try lab.apply(policies[0], "--ingress-hook", "tc", "--tc-order", "last")
            for direction in ["egress", "ingress"] { #expect(try Self.place(lab, direction)! == (2, 2)) }
            hooks = try Self.statusHooks(lab)
            #expect(hooks["tc-egress"]?["position"] as? Int == 2, "\(hooks)")
            let interfaces = try lab.json("status")["interfaces"] as? [[String: Any]] ?? []
            #expect(interfaces.first?["tc_order"] as? String == "last", "\(interfaces)")
            #expect(try lab.udp(.host, lab.host["sanb0"]!.ipv4, .array, lab.array["porta"]!.ipv4, port: 9702) == 0)
        }
        try neighbours.expectStillCounting("after the swap")

        // unload: fabricguard's programs go, the neighbours and their qdisc stay.
        #expect(try lab.fabricguard("unload").status == 0)
        #expect(try lab.tcFilters("sana0", "egress") == 0 && lab.tcFilters("sana0", "ingress") == 0)
        #expect(try lab.run(.host, ["tc", "qdisc", "show", "dev", "sana0"]).output.contains("clsact"))
        try neighbours.expectStillCounting("after unload")
    }

    /// The id of the XDP program on a host interface, nil when there is none.
    static func xdpProgram(_ lab: Lab, _ interface: String) throws -> Int? {
        let shown = try lab.run(.host, ["ip", "-j", "-d", "link", "show", "dev", interface]).output
        let link = (try JSONSerialization.jsonObject(with: Data(shown.utf8)) as? [[String: Any]])?.first
        return ((link?["xdp"] as? [String: Any])?["prog"] as? [String: Any])?["id"] as? Int
    }

    /// XDP held by another tool (xdp-filter, through libxdp): an interface has
    /// one XDP program here, since libxdp's dispatcher does not load on this
    /// kernel (docs/cli.md, "Planned"). fabricguard asked for XDP takes tc
    /// ingress there, and both enforce; its unload leaves the tool's program.
    @Test func anotherToolsXDPKeepsTheHookAndBothEnforce() throws {
        let lab = try Lab("xdpco", ipv4Only: true)
        defer { lab.close() }
        // libxdp's lock directory among the lab's pins, which `lab down` removes.
        let libxdp = "LIBXDP_BPFFS=\(lab.pinDir)-libxdp"
        try FileManager.default.createDirectory(atPath: "\(lab.pinDir)-libxdp", withIntermediateDirectories: true)
        func xdpFilter(_ arguments: String...) throws {
            let result = try Command.run(lab.hostCommand(["env", libxdp, "xdp-filter"] + arguments))
            try #require(result.status == 0, "xdp-filter \(arguments.joined(separator: " ")): \(result.output)")
        }
        try xdpFilter("load", "--mode", "native", "--features", "udp", "sana0")
        defer {
            for interface in ["sana0", "sanb0"] { _ = try? Command.run(lab.hostCommand(["env", libxdp, "xdp-filter", "unload", interface])) }
        }
        try xdpFilter("port", "9731", "--mode", "dst", "--proto", "udp")
        let theirs = try #require(try Self.xdpProgram(lab, "sana0"), "xdp-filter attached nothing to sana0")
        let (a, b, pa) = (lab.host["sana0"]!.ipv4, lab.host["sanb0"]!.ipv4, lab.array["porta"]!.ipv4)
        #expect(try lab.udp(.array, pa, .host, a, port: 9731) == 0)

        let report = try lab.json("apply", "--policy", try lab.policy("xdp.yaml"), "--ingress-hook", "xdp")
        // The apply says so: sana0's ingress went to tc, and why XDP did not take it.
        let fallbacks = report["ingress_fallbacks"] as? [[String: Any]] ?? []
        #expect(fallbacks.map { "\($0["interface"] ?? "") \($0["hook"] ?? "")" } == ["sana0 tc-ingress"], "\(report)")
        let refused = fallbacks.first?["refused"] as? [[String: Any]] ?? []
        #expect(refused.map { $0["hook"] as? String ?? "" } == ["xdp", "xdp-generic"], "\(refused)")
        #expect(try Self.statusHooks(lab).keys.sorted() == ["tc-egress", "tc-ingress"])
        let status = try lab.json("status")
        #expect(status["healthy"] as? Bool == true)
        // status keeps saying why, after the apply's output is gone.
        let sana0 = (status["interfaces"] as? [[String: Any]] ?? []).first { $0["name"] as? String == "sana0" }
        let kept = sana0?["ingress_refused"] as? [[String: Any]] ?? []
        #expect(kept.map { $0["hook"] as? String ?? "" } == ["xdp", "xdp-generic"], "\(sana0 ?? [:])")
        let why = kept.first?["error"] as? String ?? ""
        #expect(why.contains("busy"), "\(kept)")
        let text = try lab.fabricguard("status").output
        #expect(text.contains("ingress not on xdp: "), "\(text)")
        #expect(try Self.xdpProgram(lab, "sana0") == theirs)
        // sanb0's XDP is free: fabricguard's own program takes it.
        let sanb0 = (status["interfaces"] as? [[String: Any]] ?? []).first { $0["name"] as? String == "sanb0" }
        #expect((sanb0?["hooks"] as? [[String: Any]] ?? []).contains { $0["hook"] as? String == "xdp" }, "\(sanb0 ?? [:])")
        // The other way round: fabricguard's XDP link keeps sanb0, the tool is refused.
        let ours = try #require(try Self.xdpProgram(lab, "sanb0"), "no XDP program on sanb0")
        let refusedLoad = try Command.run(lab.hostCommand(["env", libxdp, "xdp-filter", "load", "--mode", "native", "sanb0"]))
        #expect(refusedLoad.status != 0, "xdp-filter took sanb0 from fabricguard: \(refusedLoad.output)")
        #expect(try Self.xdpProgram(lab, "sanb0") == ours)

        // Both enforce on sana0: the tool's port rule on arrival, fabricguard's
        // fabric rule on departure; fabricguard's tc ingress judges what XDP passed.
        #expect(try lab.udp(.array, pa, .host, a, port: 9731) == 0)
        #expect(try lab.udp(.array, pa, .host, a, port: 9732) == 3)
        #expect(try lab.udp(.host, b, .array, pa, port: 9733) == 0)
        #expect(try lab.counter("sana0", "egress", "foreign_source", "drop") >= 3)
        #expect(try lab.counter("sana0", "ingress", "ok", "pass") >= 3)

        // unload: the tool's program and rule stay; the leak is fabricguard's to stop.
        #expect(try lab.fabricguard("unload").status == 0)
        #expect(try Self.xdpProgram(lab, "sana0") == theirs)
        #expect(try lab.udp(.array, pa, .host, a, port: 9734) == 3)
        #expect(try lab.udp(.array, pa, .host, a, port: 9731) == 0)
        #expect(try lab.udp(.host, b, .array, pa, port: 9735) == 3)
    }

    @Test func twoInstancesInOneNamespaceEachEnforceTheirOwnInterfaces() throws {
        let lab = try Lab("pair", ipv4Only: true)
        defer { lab.close() }
        let full = try String(contentsOfFile: try lab.policy("full.yaml"), encoding: .utf8)
        let off = "\n    egress: { mode: off }\n    ingress: { mode: off }"
        // Instance one enforces san-a's sana0, instance two san-b's sanb0; each knows both fabrics' prefixes.
        let one = try lab.write("one.yaml", full.replacingOccurrences(of: "interfaces: [sanb0]", with: "interfaces: [sanb0]\(off)"))
        let two = try lab.write("two.yaml", full.replacingOccurrences(of: "interfaces: [sana0]", with: "interfaces: [sana0]\(off)"))
        let second = "\(lab.pinDir)-two"
        try lab.apply(one, "--ingress-hook", "tc")
        try lab.apply(two, "--ingress-hook", "tc", "--pin-dir", second)

        let (a, b, pa, pb) = (lab.host["sana0"]!.ipv4, lab.host["sanb0"]!.ipv4, lab.array["porta"]!.ipv4, lab.array["portb"]!.ipv4)
        for (pinDir, interface, other) in [(lab.pinDir, "sana0", "sanb0"), (second, "sanb0", "sana0")] {
            let status = try lab.json("status", "--pin-dir", pinDir)
            let interfaces = status["interfaces"] as? [[String: Any]] ?? []
            let hooks = interfaces.first { $0["name"] as? String == interface }?["hooks"] as? [[String: Any]] ?? []
            #expect(hooks.map { "\($0["hook"] ?? "") \($0["attach"] ?? "")" } == ["tc-egress tcx", "tc-ingress tcx"], "\(pinDir): \(status)")
            #expect(interfaces.first { $0["name"] as? String == other }.map { ($0["hooks"] as? [Any])?.isEmpty } != false, "\(pinDir) hooked \(other)")
            #expect(status["healthy"] as? Bool == true, "\(status)")
        }
        #expect(try lab.tcFilters("sana0", "egress") == 1 && lab.tcFilters("sanb0", "egress") == 1)

        // Each fabric's own traffic passes; each leak is dropped by the instance on its interface.
        #expect(try lab.udp(.host, a, .array, pa, port: 9711) == 3)
        #expect(try lab.udp(.host, b, .array, pb, port: 9712) == 3)
        #expect(try lab.udp(.host, b, .array, pa, port: 9713) == 0)
        #expect(try lab.udp(.host, a, .array, pb, port: 9714) == 0)
        #expect(try lab.counter("sana0", "egress", "foreign_source", "drop") >= 3)
        let secondStats = try lab.json("stats", "--pin-dir", second)["counters"] as? [[String: Any]] ?? []
        let secondDrops = secondStats.first {
            $0["interface"] as? String == "sanb0" && $0["direction"] as? String == "egress" && $0["reason"] as? String == "foreign_source"
                && $0["action"] as? String == "drop"
        }?["packets"] as? Int ?? 0
        #expect(secondDrops >= 3, "\(secondStats)")

        // Unloading one leaves the other enforcing.
        #expect(try lab.fabricguard("unload").status == 0)
        #expect(try lab.tcFilters("sana0", "egress") == 0 && lab.tcFilters("sanb0", "egress") == 1)
        #expect(try lab.udp(.host, a, .array, pb, port: 9715) == 0)
        #expect(try lab.fabricguard("unload", "--pin-dir", second).status == 0)
        #expect(try lab.tcFilters("sanb0", "egress") == 0)
        for interface in ["sana0", "sanb0"] {
            #expect(try !lab.run(.host, ["tc", "qdisc", "show", "dev", interface]).output.contains("clsact"), "a qdisc left on \(interface)")
        }
    }
}
