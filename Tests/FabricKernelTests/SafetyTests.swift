import Foundation
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// Operator safety on the lab: a policy that would cut the operator's own SSH
/// session is refused, by `apply` and by a daemon's reload.
@Suite("Kernel tier: operator safety", .enabled(if: KernelGate.enabled, KernelGate.skipMessage), .serialized)
struct SafetyTests {
    /// SSH from the array's SAN-A portal to the host's SAN-B address: its replies
    /// leave through sana0 (the connected route) with a SAN-B source.
    static let crossing = "10.1.0.100 50022 10.2.0.10 22"
    static let sameFabric = "10.1.0.100 50022 10.1.0.10 22"

    func apply(_ lab: Lab, _ policy: String, ssh: String, _ extra: [String] = []) throws -> Command.Result {
        try Command.run(["env", "SSH_CONNECTION=\(ssh)"] + lab.agentCommand(["apply", "--policy", policy] + extra))
    }

    @Test func applyRefusesAPolicyThatWouldDropYourSSHSessionUnlessForced() throws {
        let lab = try Lab("lockout", ipv4Only: true)
        defer { lab.close() }
        let policy = try lab.policy("enforce.yaml")
        let refused = try apply(lab, policy, ssh: Self.crossing)
        #expect(refused.status == 2, "\(refused.output)")
        #expect(refused.output.contains("refused: the policy would cut traffic this host depends on")
            && refused.output.contains("your SSH session (SSH_CONNECTION): 10.2.0.10 -> 10.1.0.100 leaving through sana0")
            && refused.output.contains("foreign_source") && refused.output.contains("--force"), "\(refused.output)")
        #expect(try lab.status()["installed"] as? Bool == false, "a refused apply changed the kernel")

        // The same session inside its own fabric passes the guard.
        let fine = try apply(lab, policy, ssh: Self.sameFabric)
        #expect(fine.status == 0, "\(fine.output)")
        // Audit mode counts but drops nothing: nothing to refuse.
        #expect(try apply(lab, try lab.policy("audit.yaml", mode: "audit"), ssh: Self.crossing).status == 0)

        let forced = try apply(lab, policy, ssh: Self.crossing, ["--force"])
        #expect(forced.status == 0 && forced.output.contains("--force: applying although your SSH session"), "\(forced.output)")
        #expect(try lab.status()["generation"] as? Int == 3)
    }

    @Test func aReloadThatWouldDropYourSSHSessionIsRefusedAndTheRunningPolicyStays() throws {
        let lab = try Lab("lockoutd", ipv4Only: true)
        defer { lab.close() }
        let policy = try lab.policy("enforce.yaml")
        let original = try String(contentsOfFile: policy, encoding: .utf8)
        let daemon = try DaemonProcess(lab, policy: policy, arguments: ["--metrics", "off"], environment: ["SSH_CONNECTION": Self.sameFabric])
        try daemon.waitUntilEnforcing()
        let digest = try lab.status()["digest"] as? String
        // The fabrics' prefixes swapped: 10.1.0.10 leaving sana0 becomes a foreign source.
        let swapped = original.replacingOccurrences(of: "10.1.0.0/24", with: "@A").replacingOccurrences(of: "10.2.0.0/24", with: "10.1.0.0/24")
            .replacingOccurrences(of: "@A", with: "10.2.0.0/24")
        try swapped.write(toFile: policy, atomically: true, encoding: .utf8)
        kill(daemon.pid, SIGHUP)
        try waitUntil("the reload to be refused") { daemon.log.contains("policy reload refused") }
        #expect(daemon.log.contains("your SSH session (SSH_CONNECTION): 10.1.0.10 -> 10.1.0.100 leaving through sana0"), "\(daemon.log)")
        #expect(try lab.status()["digest"] as? String == digest)
        #expect(daemon.isRunning)
        // A good reload afterwards still works.
        try (original + "# edited\nexempt: [0.0.0.0/32, \"::/128\", \"fe80::/10\", 192.0.2.0/24]\n")
            .replacingOccurrences(of: "exempt: [0.0.0.0/32, \"::/128\", \"fe80::/10\"]\n", with: "")
            .write(toFile: policy, atomically: true, encoding: .utf8)
        kill(daemon.pid, SIGHUP)
        try lab.waitForStatus("the good reload", seconds: 10) { $0["digest"] as? String != digest }
        #expect(daemon.stop() == 0)
    }
}

/// `apply --confirm`: an unconfirmed apply rolls back by itself, even when the
/// session that applied it is gone; a confirmed one stays.
@Suite("Kernel tier: apply --confirm", .enabled(if: KernelGate.enabled, KernelGate.skipMessage), .serialized)
struct ConfirmTests {
    func digest(_ lab: Lab) throws -> String? { try lab.status()["digest"] as? String }

    /// Applies the enforcing policy (confirmed), and returns it with an audit one.
    func start(_ lab: Lab) throws -> (enforce: String, audit: String, digest: String) {
        let enforce = try lab.policy("enforce.yaml")
        try lab.apply(enforce)
        return (enforce, try lab.policy("audit.yaml", mode: "audit"), try #require(try digest(lab)))
    }

    @Test func anUnconfirmedApplyRollsBack() throws {
        let lab = try Lab("confirm", ipv4Only: true)
        defer { lab.close() }
        let (_, audit, confirmed) = try start(lab)
        let result = try lab.fabricguard("apply", "--policy", audit, "--confirm", "3s")
        #expect(result.status == 0 && result.output.contains("not confirmed yet"), "\(result.output)")
        let status = try lab.status()
        #expect(status["digest"] as? String != confirmed && status["confirm_by"] is String, "\(status)")
        try lab.waitForStatus("the rollback", seconds: 6) { $0["digest"] as? String == confirmed && $0["confirm_by"] == nil }
        let log = try String(contentsOfFile: "/run/fabricguard/\(URL(fileURLWithPath: lab.pinDir).lastPathComponent)/rollback.log", encoding: .utf8)
        #expect(log.contains("rolled back to"), "\(log)")
        #expect(try lab.fabricguard("confirm", "--pin-dir", lab.pinDir).status == 3)
    }

    @Test func theRollbackOutlivesTheApplyingSession() throws {
        let lab = try Lab("confirmk", ipv4Only: true)
        defer { lab.close() }
        let (_, audit, confirmed) = try start(lab)
        // An SSH session, as far as the apply can tell: a session of its own that is then killed whole.
        let apply = (lab.agentCommand(["apply", "--policy", audit, "--confirm", "3s"]).map { "'\($0)'" }).joined(separator: " ")
        let session = try Child(["setsid", "sh", "-c", "\(apply); sleep 60"], output: .discard)
        try lab.waitForStatus("the unconfirmed apply") { $0["confirm_by"] is String }
        kill(-session.pid, SIGKILL)
        session.wait()
        try lab.waitForStatus("the rollback", seconds: 6) { $0["digest"] as? String == confirmed && $0["confirm_by"] == nil }
    }

    @Test func aConfirmedApplyStays() throws {
        let lab = try Lab("confirmc", ipv4Only: true)
        defer { lab.close() }
        let (_, audit, _) = try start(lab)
        #expect(try lab.fabricguard("apply", "--policy", audit, "--confirm", "3s").status == 0)
        let applied = try digest(lab)
        let confirmed = try lab.fabricguard("confirm", "--pin-dir", lab.pinDir)
        #expect(confirmed.status == 0 && confirmed.output.contains("confirmed"), "\(confirmed.output)")
        #expect(try lab.status()["confirm_by"] == nil)
        // Past the deadline, and then some: nothing comes back.
        let past = Date().addingTimeInterval(5)
        try waitUntil("the deadline to pass", seconds: 8) { Date() > past }
        #expect(try digest(lab) == applied)
    }

    @Test func anUnconfirmedFirstApplyUnloads() throws {
        let lab = try Lab("confirmf", ipv4Only: true)
        defer { lab.close() }
        #expect(try lab.fabricguard("apply", "--policy", try lab.policy("enforce.yaml"), "--confirm", "2s").status == 0)
        #expect(try lab.ourPrograms("sana0") > 0)
        try lab.waitForStatus("the unload", seconds: 5) { $0["installed"] as? Bool == false }
        #expect(try lab.ourPrograms("sana0") == 0)
    }
}

/// `learn` on the lab: a policy `check` accepts as written, and that, applied,
/// counts no violation under the lab's normal traffic, iSCSI included.
@Suite("Kernel tier: learn", .enabled(if: KernelGate.enabled, KernelGate.skipMessage), .serialized)
struct LearnTests {
    @Test func aLearntPolicyChecksAndCountsNoViolationUnderNormalTraffic() throws {
        let lab = try Lab("learn")
        defer { lab.close() }
        try lab.must(.host, ["ip", "route", "add", "default", "dev", "mgmt0"])
        let out = lab.directory.appendingPathComponent("learnt.yaml").path
        let learnt = try lab.fabricguard("learn", "--out", out)
        #expect(learnt.status == 0 && learnt.output.contains("2 fabrics, audit mode"), "\(learnt.output)")
        let text = try String(contentsOfFile: out, encoding: .utf8)
        #expect(text.contains("interfaces: [sana0]") && text.contains("interfaces: [sanb0]") && text.contains("management: [mgmt0]"), "\(text)")
        #expect(text.contains("# connected: sana0 has 10.1.0.10/24") && text.contains("- \"10.1.0.0/24\""), "\(text)")
        // An existing file is kept.
        #expect(try lab.fabricguard("learn", "--out", out).status == 2)

        let check = try lab.fabricguard("check", "--policy", out)
        #expect(check.status == 0, "\(check.output)")
        try lab.apply(out)

        let (a, b) = (lab.host["sana0"]!, lab.host["sanb0"]!)
        let (pa, pb) = (lab.array["porta"]!, lab.array["portb"]!)
        for (source, destination) in [(a.ipv4, pa.ipv4), (b.ipv4, pb.ipv4), (a.ipv6, pa.ipv6), (b.ipv6, pb.ipv6)] {
            #expect(try lab.udp(.host, source, .array, destination, port: 9770) == 3, "\(source) -> \(destination)")
            #expect(try lab.tcp(source, destination, port: 9771), "\(source) -> \(destination)")
        }
        let started = try Command.run([Lab.script("lab"), "iscsi", lab.name])
        try #require(started.status == 0, "\(started.output)")
        let iqn = started.output.split(separator: "\n").last.map(String.init) ?? ""
        for portal in [pa.ipv4, pb.ipv4] {
            let inquiry = try lab.run(.host, ["timeout", "10", "iscsi-inq", "iscsi://\(portal)/\(iqn)/1"])
            #expect(inquiry.status == 0 && inquiry.output.contains("DIRECT_ACCESS"), "\(portal): \(inquiry.output)")
        }
        let rows = try lab.json("stats")["counters"] as? [[String: Any]] ?? []
        let violations = rows.filter { ($0["action"] as? String)?.hasPrefix("would_") == true }
        #expect(violations.isEmpty, "\(violations)")
        #expect(rows.contains { $0["reason"] as? String == "ok" && ($0["packets"] as? Int ?? 0) > 0 }, "\(rows)")
    }
}

extension ConfirmTests {
    /// An unload while a rollback is armed cancels it: nothing comes back at the deadline.
    @Test func unloadCancelsAPendingRollback() throws {
        let lab = try Lab("confirmu", ipv4Only: true)
        defer { lab.close() }
        let (_, audit, _) = try start(lab)
        #expect(try lab.fabricguard("apply", "--policy", audit, "--confirm", "2s").status == 0)
        #expect(try lab.fabricguard("unload").status == 0)
        let past = Date().addingTimeInterval(3.5)
        try waitUntil("the deadline to pass", seconds: 6) { Date() > past }
        #expect(try lab.status()["installed"] as? Bool == false)
        #expect(try lab.ourPrograms("sana0") == 0)
    }
}
