import FabricFixtures
import FabricHost
import Foundation
import Testing

/// The `fabricguard` executable as users run it: exit statuses, text and JSON.
@Suite("fabricguard command line")
struct CLITests {
    struct Run {
        var status: Int32
        var stdout: String
        var stderr: String

        func json() throws -> [String: Any] {
            let object = try JSONSerialization.jsonObject(with: Data(stdout.utf8))
            return try #require(object as? [String: Any], "not a JSON object: \(stdout)")
        }
    }

    /// The executable built next to this test bundle.
    static let executable: URL = {
        if let path = ProcessInfo.processInfo.environment["FABRICGUARD_BIN"] { return URL(fileURLWithPath: path) }
        return URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent("fabricguard")
    }()

    /// A scratch directory holding the fixture policy and host inventory.
    static let workspace: URL = {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("fabricguard-cli-\(getpid())")
        try? FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        try? FixtureWorld.policyYAML.write(to: directory.appendingPathComponent("policy.yaml"), atomically: true, encoding: .utf8)
        try? FixtureWorld.host.json().write(to: directory.appendingPathComponent("host.json"))
        try? "version: 1\nfabrics:\n  - { name: a, interfaces: [sana0], prefixes: [10.1.0.1/24] }\negres: {}\n"
            .write(to: directory.appendingPathComponent("broken.yaml"), atomically: true, encoding: .utf8)
        return directory
    }()

    static func path(_ name: String) -> String { workspace.appendingPathComponent(name).path }

    func run(_ arguments: String...) throws -> Run {
        let process = Process()
        process.executableURL = Self.executable
        process.arguments = arguments
        let out = Pipe()
        let err = Pipe()
        process.standardOutput = out
        process.standardError = err
        try process.run()
        let stdout = out.fileHandleForReading.readDataToEndOfFile()
        let stderr = err.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return Run(
            status: process.terminationStatus, stdout: String(decoding: stdout, as: UTF8.self),
            stderr: String(decoding: stderr, as: UTF8.self))
    }

    @Test func checkPrintsThePlan() throws {
        let result = try run("check", "--policy", Self.path("policy.yaml"), "--host", Self.path("host.json"))
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stdout.contains("valid, 4 fabrics, 5 managed interfaces"))
        #expect(result.stdout.contains("digest sha256:"))
        #expect(result.stdout.contains("10.1.0.254/32 -> san-a, exempt"))
        #expect(result.stdout.contains("interface 'sand0' of fabric 'san-d' is down"))
    }

    /// The metrics endpoint has no authentication: beyond loopback only when asked.
    @Test(arguments: [
        ("0.0.0.0:9750", "0.0.0.0 is not a loopback address"),
        ("[::]:9750", ":: is not a loopback address"),
        ("9750", "expected ADDR:PORT, [IPv6]:PORT or off"),
        ("127.0.0.1:http", "'http' is not a port"),
        ("example.org:9750", "'example.org' is not an IP address"),
    ])
    func runRefusesAMetricsAddressItShouldNotServe(address: String, message: String) throws {
        let result = try run("run", "--policy", Self.path("policy.yaml"), "--metrics", address)
        #expect(result.status == 2 && result.stderr.contains(message), "\(result.stderr)")
    }

    /// examples/fleet: one template rendered per host and checked against each
    /// host's inventory; a host whose values do not fit its inventory fails the run.
    @Test func theFleetExampleRendersAndChecksEveryHost() throws {
        let fleet = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("examples/fleet")
        let work = FileManager.default.temporaryDirectory.appendingPathComponent("fg-fleet-\(UUID().uuidString)")
        try FileManager.default.copyItem(at: fleet, to: work)
        defer { try? FileManager.default.removeItem(at: work) }
        func render() throws -> (status: Int32, output: String) {
            let process = Process()
            process.executableURL = work.appendingPathComponent("render-and-check")
            process.arguments = [work.appendingPathComponent("out").path]
            process.environment = ProcessInfo.processInfo.environment.merging(["FABRICGUARD": Self.executable.path]) { $1 }
            let pipe = Pipe()
            process.standardOutput = pipe
            process.standardError = pipe
            try process.run()
            let data = pipe.fileHandleForReading.readDataToEndOfFile()
            process.waitUntilExit()
            return (process.terminationStatus, String(decoding: data, as: UTF8.self))
        }
        let good = try render()
        #expect(good.status == 0 && good.output.components(separatedBy: ": valid, 2 fabrics, 2 managed interfaces").count == 4, "\(good.output)")
        let rendered = try String(contentsOf: work.appendingPathComponent("out/array-1.yaml"), encoding: .utf8)
        #expect(rendered.contains("interfaces: [ens3f0]") && rendered.contains("management: [bond0]") && !rendered.contains("${"))
        // A host whose values name a NIC its inventory does not have.
        try "NIC_A=ens2f0\nNIC_B=ens9f9\nMGMT=bond0\n".write(to: work.appendingPathComponent("hosts/array-1.env"), atomically: true, encoding: .utf8)
        let bad = try render()
        #expect(bad.status == 1 && bad.output.contains("array-1: FAILED") && bad.output.contains("ens9f9"), "\(bad.output)")
    }

    @Test func checkShowsTheEventBudget() throws {
        let result = try run("check", "--policy", Self.path("policy.yaml"), "--host", Self.path("host.json"))
        #expect(result.stdout.contains("events 100/s per interface and reason, bursts of 200"), "\(result.stdout)")
    }

    @Test func checkJSON() throws {
        let result = try run("check", "--policy", Self.path("policy.yaml"), "--host", Self.path("host.json"), "--json")
        #expect(result.status == 0)
        let report = try result.json()
        #expect(report["valid"] as? Bool == true)
        #expect((report["digest"] as? String)?.hasPrefix("sha256:") == true)
        let plan = try #require(report["plan"] as? [String: Any])
        #expect((plan["interfaces"] as? [Any])?.count == 5)
        #expect((report["warnings"] as? [Any])?.count == 1)
    }

    @Test func anInvalidPolicyExitsTwoAndListsEveryProblem() throws {
        let result = try run("check", "--policy", Self.path("broken.yaml"), "--host", Self.path("host.json"))
        #expect(result.status == 2)
        #expect(result.stdout.isEmpty)
        #expect(result.stderr.contains("invalid policy \(Self.path("broken.yaml")): 2 errors"))
        #expect(result.stderr.contains("broken.yaml:3:48: fabrics[0].prefixes[0]: '10.1.0.1/24': host bits are set"))
        #expect(result.stderr.contains("broken.yaml:4:1: egres: unknown key 'egres' (did you mean 'egress'?)"))

        let json = try run("check", "--policy", Self.path("broken.yaml"), "--host", Self.path("host.json"), "--json")
        #expect(json.status == 2)
        let errors = try #require(try json.json()["errors"] as? [[String: Any]])
        #expect(errors.map { $0["field"] as? String } == ["fabrics[0].prefixes[0]", "egres"])
        #expect(errors.first?["line"] as? Int == 3)
    }

    @Test func aMissingInterfaceNeedsAllowMissing() throws {
        let host = try HostInventory(json: Data(contentsOf: URL(fileURLWithPath: Self.path("host.json"))))
        var smaller = host
        smaller.interfaces.removeAll { $0.name == "sanc0" }
        let file = Self.path("smaller-host.json")
        try smaller.json().write(to: URL(fileURLWithPath: file))
        let refused = try run("check", "--policy", Self.path("policy.yaml"), "--host", file)
        #expect(refused.status == 2)
        #expect(refused.stderr.contains("interface 'sanc0' is not on this host"))
        let accepted = try run("check", "--policy", Self.path("policy.yaml"), "--host", file, "--allow-missing")
        #expect(accepted.status == 0)
        #expect(accepted.stdout.contains("interface 'sanc0' is not on this host; it is skipped until it appears"))
    }

    @Test func explainJSONHasTheContractShape() throws {
        let drop = try run(
            "explain", "--policy", Self.path("policy.yaml"), "--host", Self.path("host.json"),
            "--out", "sana0", "--src", "10.2.0.10", "--dst", "10.1.0.1", "--json")
        #expect(drop.status == 0, "\(drop.stderr)")
        let verdict = try drop.json()
        #expect(verdict["verdict"] as? String == "drop")
        #expect(verdict["reason"] as? String == "foreign_source")
        #expect(verdict["action"] as? String == "drop")
        #expect(verdict["redirect_interface"] == nil)

        let redirect = try run(
            "explain", "--policy", Self.path("policy.yaml"), "--host", Self.path("host.json"),
            "--out", "sanb0", "--src", "fd00:a::11", "--json")
        let redirected = try redirect.json()
        #expect(redirected["verdict"] as? String == "redirect")
        #expect(redirected["redirect_interface"] as? String == "sana1")
    }

    @Test func explainTextNamesTheRule() throws {
        let result = try run(
            "explain", "--policy", Self.path("policy.yaml"), "--host", Self.path("host.json"),
            "--in", "sana0", "--src", "10.1.0.1", "--dst", "10.2.0.10", "--arp", "request")
        #expect(result.status == 0)
        #expect(result.stdout.contains("reason   foreign_destination"))
        #expect(result.stdout.contains("destination 10.2.0.10 is this host's address of fabric 'san-b' (on sanb0) but arrived on 'sana0' of fabric 'san-a'"))
    }

    @Test(arguments: [
        ["explain", "--policy", "p.yaml", "--src", "10.0.0.1"],
        ["explain", "--policy", "p.yaml", "--out", "a", "--in", "b", "--src", "10.0.0.1"],
        ["explain", "--policy", "p.yaml", "--out", "a", "--src", "10.0.0.300"],
        ["explain", "--policy", "p.yaml", "--out", "a", "--src", "10.0.0.1", "--dst", "fd00::1"],
        ["check"],
        ["frobnicate"],
    ])
    func usageErrorsExitTwo(_ arguments: [String]) throws {
        let process = Process()
        process.executableURL = Self.executable
        process.arguments = arguments
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        process.waitUntilExit()
        #expect(process.terminationStatus == 2)
    }

    @Test func explainOnAnUnknownInterface() throws {
        let result = try run(
            "explain", "--policy", Self.path("policy.yaml"), "--host", Self.path("host.json"), "--out", "nope0", "--src", "10.1.0.1")
        #expect(result.status == 2)
        #expect(result.stderr.contains("explain nope0: no such interface"))
    }

    @Test(arguments: ["check", "explain", "inventory"])
    func helpTeachesWithExamples(_ verb: String) throws {
        let result = try run(verb, "--help")
        #expect(result.status == 0)
        #expect(result.stdout.contains("fabricguard \(verb)"))
        #expect(result.stdout.contains("fabricguard inventory --json") || result.stdout.contains("Examples:"))
    }

    @Test func inventoryJSONFeedsHost() throws {
        let result = try run("inventory", "--json")
        #expect(result.status == 0)
        let inventory = try HostInventory(json: Data(result.stdout.utf8))
        #expect(inventory.interface(named: "lo")?.index == 1)
        let file = Self.path("live-host.json")
        try result.stdout.write(toFile: file, atomically: true, encoding: .utf8)
        let policy = Self.path("lo-policy.yaml")
        try "version: 1\nfabrics: [{ name: loop, interfaces: [lo], prefixes: [127.0.0.0/8] }]\n"
            .write(toFile: policy, atomically: true, encoding: .utf8)
        let check = try run("explain", "--policy", policy, "--host", file, "--out", "lo", "--src", "127.0.0.1", "--json")
        #expect(try check.json()["reason"] as? String == "ok")
    }
}
