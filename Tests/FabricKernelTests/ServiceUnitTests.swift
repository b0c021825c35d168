import Foundation
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// deploy/systemd/fabricguard.service, checked by systemd's own tools, and its
/// command line run for real (systemd is not PID 1 here): the unit's
/// capabilities, a NOTIFY_SOCKET the test reads, READY=1 and the reload cycle.
@Suite("Service unit", .enabled(if: KernelGate.enabled, KernelGate.skipMessage), .serialized)
struct ServiceUnitTests {
    static let unit = URL(fileURLWithPath: Lab.script("lab")).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("deploy/systemd/fabricguard.service").path

    static func directive(_ name: String) throws -> String {
        let text = try String(contentsOfFile: unit, encoding: .utf8)
        let line = text.split(separator: "\n").first { $0.hasPrefix("\(name)=") }
        return try #require(line.map { String($0.dropFirst(name.count + 1)) }, "\(name)= is not in the unit")
    }

    @Test func systemdVerifiesTheUnitAndRatesItOK() throws {
        // verify checks that ExecStart's binary exists: a copy points at the one just built.
        let copy = FileManager.default.temporaryDirectory.appendingPathComponent("fabricguard.service").path
        try String(contentsOfFile: Self.unit, encoding: .utf8)
            .replacingOccurrences(of: "/usr/bin/fabricguard", with: Command.built("fabricguard"))
            .write(toFile: copy, atomically: true, encoding: .utf8)
        defer { unlink(copy) }
        let verify = try Command.run(["systemd-analyze", "verify", "--man=no", copy])
        #expect(verify.status == 0 && verify.output.isEmpty, "\(verify.output)")
        let security = try Command.run(["systemd-analyze", "security", "--offline=true", Self.unit])
        let overall = security.output.split(separator: "\n").first { $0.contains("Overall exposure level") } ?? ""
        let score = Double(overall.split(separator: ":").last?.split(separator: " ").first ?? "")
        #expect(score.map { $0 <= 2.0 } == true, "\(overall)")
    }

    @Test func theUnitsCommandLineRunsWithTheUnitsCapabilitiesAndNotifies() throws {
        let lab = try Lab("unit", ipv4Only: true)
        defer { lab.close() }
        let capabilities = try Self.directive("AmbientCapabilities").split(separator: " ")
            .map { $0.lowercased().replacingOccurrences(of: "cap_", with: "") }
        #expect(try Self.directive("CapabilityBoundingSet") == (try Self.directive("AmbientCapabilities")))
        let set = "-all" + capabilities.map { ",+\($0)" }.joined()
        // ExecStart as written, with the lab's policy and pin directory.
        var command = try Self.directive("ExecStart").split(separator: " ").map(String.init)
        command[0] = Command.built("fabricguard")
        let policy = try lab.policy("enforce.yaml")
        command = command.map { $0 == "/etc/fabricguard/policy.yaml" ? policy : $0 == "/sys/fs/bpf/fabricguard" ? lab.pinDir : $0 }
        let socketPath = lab.directory.appendingPathComponent("notify.sock").path
        let listener = try NotifyListener(path: socketPath)
        let daemon = try Child(
            ["nsenter", "--net=/run/netns/\(lab.namespace(.host))", "setpriv", "--inh-caps=\(set)", "--ambient-caps=\(set)",
             "--bounding-set=\(set)"] + command,
            output: .file(lab.directory.appendingPathComponent("unit.log").path),
            environment: ["NOTIFY_SOCKET": socketPath, "WATCHDOG_USEC": "2000000"])
        defer {
            daemon.signal(SIGTERM)
            daemon.wait()
        }
        let ready = try listener.next { $0.contains("READY=1") }
        #expect(ready.contains("STATUS=generation 1"), "\(ready)")
        _ = try listener.next { $0.contains("WATCHDOG=1") }
        kill(daemon.pid, SIGHUP)  // ExecReload=/bin/kill -HUP $MAINPID
        _ = try listener.next { $0.contains("RELOADING=1") }
        _ = try listener.next { $0.contains("READY=1") }
        daemon.signal(SIGTERM)
        #expect(daemon.wait() == 0)
        #expect(try lab.ourPrograms("sana0") > 0, "enforcement stays after a stop")
    }

    /// A ConfigMap update as the kubelet makes it (a new timestamped directory,
    /// then the `..data` symlink swapped over by a rename): `run --watch-policy`
    /// reloads without a signal; a change that does not validate is refused.
    @Test func aConfigMapUpdateIsReloadedWithoutASignal() throws {
        let lab = try Lab("cmap", ipv4Only: true)
        defer { lab.close() }
        let mount = lab.directory.appendingPathComponent("configmap").path
        let manager = FileManager.default
        func publish(_ text: String, _ version: String) throws {
            try manager.createDirectory(atPath: "\(mount)/..\(version)", withIntermediateDirectories: true)
            try text.write(toFile: "\(mount)/..\(version)/policy.yaml", atomically: true, encoding: .utf8)
            try? manager.removeItem(atPath: "\(mount)/..data_tmp")
            try manager.createSymbolicLink(atPath: "\(mount)/..data_tmp", withDestinationPath: "..\(version)")
            #expect(rename("\(mount)/..data_tmp", "\(mount)/..data") == 0)
        }
        let original = try String(contentsOfFile: try lab.policy("enforce.yaml"), encoding: .utf8)
        try publish(original, "v1")
        try manager.createSymbolicLink(atPath: "\(mount)/policy.yaml", withDestinationPath: "..data/policy.yaml")
        let daemon = try DaemonProcess(lab, policy: "\(mount)/policy.yaml", arguments: ["--watch-policy", "--metrics", "off"])
        try daemon.waitUntilEnforcing()
        let first = try lab.status()["digest"] as? String
        try publish(original.replacingOccurrences(of: "mode: enforce", with: "mode: audit"), "v2")
        try lab.waitForStatus("the ConfigMap's policy", seconds: 10) { $0["digest"] as? String != first }
        #expect(daemon.log.contains("the policy file changed; reloading"), "\(daemon.log)")
        let second = try lab.status()["digest"] as? String
        try publish("version: 1\nfabrics: [oops\n", "v3")
        try waitUntil("the broken update to be refused") { daemon.log.contains("policy reload refused") }
        #expect(try lab.status()["digest"] as? String == second)
        #expect(daemon.stop() == 0)
    }
}

/// deploy/kubernetes: the manifests pass kubernetes-validate (strict) against
/// Kubernetes 1.30 and the newest schemas it knows, ask for the unit's
/// capabilities (not privileged), and the ConfigMap's policy validates.
@Suite("Kubernetes manifests", .enabled(if: KernelGate.required || KubernetesValidate.path != nil, "kubernetes-validate is missing (PyPI; scripts/setup installs it)"))
struct KubernetesManifestTests {
    static let directory = URL(fileURLWithPath: Lab.script("lab")).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("deploy/kubernetes").path

    @Test(arguments: ["1.30.0", nil as String?])
    func manifestsValidateStrictly(_ version: String?) throws {
        let tool = try #require(KubernetesValidate.path, "kubernetes-validate is missing")
        let result = try Command.run([tool, "--strict"] + (version.map { ["-k", $0] } ?? [])
            + ["\(Self.directory)/daemonset.yaml", "\(Self.directory)/configmap.yaml"])
        #expect(result.status == 0 && result.output.components(separatedBy: "passed").count == 3, "\(result.output)")
    }

    @Test func theDaemonSetAsksForTheUnitsCapabilitiesAndTheConfigMapsPolicyValidates() throws {
        let daemonset = try String(contentsOfFile: "\(Self.directory)/daemonset.yaml", encoding: .utf8)
        let unit = try ServiceUnitTests.directive("AmbientCapabilities").split(separator: " ")
            .map { $0.replacingOccurrences(of: "CAP_", with: "") }.sorted()
        let line = daemonset.split(separator: "\n").first { $0.contains("add: [") } ?? ""
        let added = line.split(separator: "[").last?.dropLast().split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.sorted()
        #expect(added == unit, "\(line) vs \(unit)")
        #expect(daemonset.contains("privileged: false") && daemonset.contains("drop: [ALL]"))
        // The policy block of the ConfigMap, unindented, checked as `check` would.
        let configmap = try String(contentsOfFile: "\(Self.directory)/configmap.yaml", encoding: .utf8)
        let body = configmap.components(separatedBy: "policy.yaml: |\n").last ?? ""
        let policy = body.split(separator: "\n", omittingEmptySubsequences: false).map { $0.hasPrefix("    ") ? String($0.dropFirst(4)) : String($0) }
            .joined(separator: "\n")
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("fg-configmap-\(getpid()).yaml").path
        try policy.write(toFile: file, atomically: true, encoding: .utf8)
        defer { unlink(file) }
        let check = try Command.run([Command.built("fabricguard"), "check", "--policy", file, "--allow-missing"])
        #expect(check.status == 0, "\(check.output)")
    }
}

enum KubernetesValidate {
    static let path = (ProcessInfo.processInfo.environment["PATH"] ?? "").split(separator: ":")
        .map { "\($0)/kubernetes-validate" }.first { FileManager.default.isExecutableFile(atPath: $0) }
}
