import FabricFixtures
import FabricPolicy
import FabricReference
import FabricSystem
import Foundation
import Testing

/// What an attacker (or a slip of the shell) hands `--policy` and `--host`: each must be refused
/// with an error naming the file, at once, and without reading it whole. The contract is "a clear
/// error within 1 s"; the tests hold each run to 5 s, a bound generous enough for a loaded CI
/// machine that still fails a run that blocks (a FIFO) or reads 64 MiB of /dev/zero. A run past
/// the bound is killed and fails the test rather than hanging it.
@Suite("Bad input to check")
struct BadInputTests {
    struct Case: CustomTestStringConvertible, Sendable {
        var name: String
        /// Writes the input (or not: a device) and gives its path.
        var make: @Sendable (String) throws -> String
        var flag = "--policy"
        var status: Int32 = 2
        var messages: [String]

        var testDescription: String { name }
    }

    static let directory: String = {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("fabricguard-bad-\(getpid())").path
        try? FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return path
    }()

    static func write(_ text: String, _ name: String) throws -> String {
        try write(Array(text.utf8), name)
    }

    static func write(_ bytes: [UInt8], _ name: String) throws -> String {
        let path = directory + "/" + name
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        return path
    }

    /// Ten levels of aliases, each naming the one below ten times: 10^10 nodes if expanded.
    static let aliasBomb: String = {
        var lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
        for level in 1...10 {
            lines.append("a\(level): &a\(level) [" + Array(repeating: "*a\(level - 1)", count: 10).joined(separator: ", ") + "]")
        }
        // As a key too: Yams hashes mapping keys to find duplicates.
        lines.append("? *a10\n: boom")
        return lines.joined(separator: "\n") + "\n"
    }()

    static let depth = 10_000

    static let cases: [Case] = [
        Case(name: "/dev/zero", make: { _ in "/dev/zero" },
             messages: ["read policy /dev/zero: not a regular file (character device); give a file, or - for standard input"]),
        Case(name: "a FIFO nobody writes", make: { name in
            let path = directory + "/" + name
            unlink(path)
            guard mkfifo(path, 0o600) == 0 else { throw CocoaError(.fileWriteUnknown) }
            return path
        }, messages: ["fifo.yaml: not a regular file (FIFO)"]),
        Case(name: "a directory", make: { _ in directory },
             messages: ["read policy \(directory): not a regular file (directory)"]),
        Case(name: "a 50 MB file", make: { name in
            // Under the 64 MiB cap, so read: 50 MB of NULs after the first line. The error
            // names the character, never quotes the 50 MB line it is on.
            let path = directory + "/" + name
            guard FileManager.default.createFile(atPath: path, contents: Data("version: 1\n".utf8)),
                  truncate(path, 50_000_000) == 0 else { throw CocoaError(.fileWriteUnknown) }
            return path
        }, messages: ["big.yaml:", "not valid YAML: control characters are not allowed (U+0000)"]),
        Case(name: "a 70 MB file", make: { name in
            // Sparse: over the cap, refused from its size before a byte is read.
            let path = directory + "/" + name
            guard FileManager.default.createFile(atPath: path, contents: Data("version: 1\n".utf8)),
                  truncate(path, 70_000_000) == 0 else { throw CocoaError(.fileWriteUnknown) }
            return path
        }, messages: ["huge.yaml: 66.7 MiB, over the 64 MiB limit for this file"]),
        Case(name: "an alias bomb", make: { try write(aliasBomb, $0) },
             messages: ["bomb.yaml:6:", "aliases expand to more than 1000000 nodes"]),
        Case(name: "10,000 nested flow lists", make: {
            try write(String(repeating: "[", count: depth) + String(repeating: "]", count: depth) + "\n", $0)
        }, messages: ["flow-lists.yaml:1:", "nested more than 64 levels deep"]),
        Case(name: "10,000 nested flow mappings", make: {
            try write(String(repeating: "a: {", count: depth) + "a: 1" + String(repeating: "}", count: depth) + "\n", $0)
        }, messages: ["flow-maps.yaml:1:", "nested more than 64 levels deep"]),
        Case(name: "10,000 nested block lists", make: {
            try write(String(repeating: "- ", count: depth) + "x\n", $0)
        }, messages: ["block-lists.yaml:1:", "nested more than 64 levels deep"]),
        Case(name: "2,000 nested block mappings", make: {
            try write((0..<2000).map { String(repeating: " ", count: $0) + "a:" }.joined(separator: "\n") + " 1\n", $0)
        }, messages: ["block-maps.yaml:65:65:", "nested more than 64 levels deep"]),
        Case(name: "invalid UTF-8", make: {
            try write(Array("version: 1\nfabrics:\n  - name: caf".utf8) + [0xff] + Array("\n".utf8), $0)
        }, messages: ["read policy", "utf8.yaml: not UTF-8 text (byte 0xFF at line 3, column 14)"]),
        Case(name: "a prefix length with a leading zero", make: {
            try write("version: 1\nfabrics:\n  - { name: a, interfaces: [sana0], prefixes: [10.0.0.0/08] }\n", $0)
        }, messages: ["prefix.yaml:3:48: fabrics[0].prefixes[0]: '10.0.0.0/08': '08' is not a prefix length (leading zeros are not allowed)"]),
        Case(name: "--host /dev/zero", make: { _ in "/dev/zero" }, flag: "--host",
             messages: ["read host file /dev/zero: not a regular file (character device); give a file, or - for standard input"]),
        Case(name: "--host a directory", make: { _ in directory }, flag: "--host",
             messages: ["read host file \(directory): not a regular file (directory)"]),
        Case(name: "--host a 5 MB file", make: { name in
            let path = directory + "/" + name
            guard FileManager.default.createFile(atPath: path, contents: Data("{}".utf8)), truncate(path, 5_000_000) == 0 else {
                throw CocoaError(.fileWriteUnknown)
            }
            return path
        }, flag: "--host", messages: ["host-big.json: 4.7 MiB, over the 4 MiB limit for this file"]),
        Case(name: "--host an alias bomb", make: { try write(aliasBomb, $0) }, flag: "--host",
             messages: ["host-bomb.json:6:", "aliases expand to more than 1000000 nodes"]),
        Case(name: "--host 10,000 nested arrays", make: {
            try write(String(repeating: "[", count: depth) + String(repeating: "]", count: depth), $0)
        }, flag: "--host", messages: ["host-deep.json:1:", "nested more than 64 levels deep"]),
    ]

    static let fileNames = [
        "/dev/zero": "", "a FIFO nobody writes": "fifo.yaml", "a 50 MB file": "big.yaml", "a 70 MB file": "huge.yaml", "an alias bomb": "bomb.yaml",
        "10,000 nested flow lists": "flow-lists.yaml", "10,000 nested flow mappings": "flow-maps.yaml",
        "10,000 nested block lists": "block-lists.yaml", "2,000 nested block mappings": "block-maps.yaml",
        "invalid UTF-8": "utf8.yaml", "a prefix length with a leading zero": "prefix.yaml", "--host a 5 MB file": "host-big.json",
        "--host an alias bomb": "host-bomb.json", "--host 10,000 nested arrays": "host-deep.json",
    ]

    @Test(arguments: cases)
    func isRefusedAtOnce(_ bad: Case) throws {
        let path = try bad.make(Self.fileNames[bad.name] ?? bad.name)
        let arguments = bad.flag == "--policy"
            ? ["check", "--policy", path, "--host", CLITests.path("host.json")]
            : ["check", "--policy", CLITests.path("policy.yaml"), "--host", path]
        let started = ContinuousClock.now
        let result = try BoundedRun.run(arguments, deadline: .seconds(5))
        let elapsed = ContinuousClock.now - started
        #expect(!result.timedOut, "still running after \(elapsed): blocked or reading the whole input")
        #expect(elapsed < .seconds(5))
        #expect(result.status == bad.status, "\(result.stderr)")
        for message in bad.messages {
            #expect(result.stderr.contains(message), "expected '\(message)' in:\n\(result.stderr)")
        }
        // The error names the file it refused, and does not quote the input back.
        #expect(result.stderr.contains(path), "\(result.stderr)")
        #expect(result.stderr.utf8.count < 1000, "\(result.stderr.prefix(1000))")
        // Bounded memory: the fixture policy alone is about 30 MiB; the files here are up
        // to 70 MB, and before the limits /dev/zero grew to 8.9 GB.
        #expect(result.peakMebibytes > 0 && result.peakMebibytes < Self.memoryBound, "peak \(result.peakMebibytes) MiB")
    }

    /// A debug build's bound (under a sanitizer the runtime's shadow memory counts too).
    static let memoryBound = BoundedRun.sanitized ? 1024 : 160

    @Test func dashReadsStandardInput() throws {
        let policy = try Data(contentsOf: URL(fileURLWithPath: CLITests.path("policy.yaml")))
        let result = try BoundedRun.run(
            ["check", "--policy", "-", "--host", CLITests.path("host.json")], input: policy, deadline: .seconds(20))
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stdout.contains("valid, 4 fabrics"))
        let host = try Data(contentsOf: URL(fileURLWithPath: CLITests.path("host.json")))
        let fromHost = try BoundedRun.run(
            ["check", "--policy", CLITests.path("policy.yaml"), "--host", "-"], input: host, deadline: .seconds(20))
        #expect(fromHost.status == 0, "\(fromHost.stderr)")
    }

    @Test func standardInputHasTheSameCap() throws {
        // A pipe has no size to check first: reading stops one byte past the cap.
        let huge = Data(repeating: UInt8(ascii: "#"), count: (64 << 20) + 100)
        let result = try BoundedRun.run(
            ["check", "--policy", "-", "--host", CLITests.path("host.json")], input: huge, deadline: .seconds(20))
        #expect(result.status == 2)
        #expect(result.stderr.contains("read policy standard input: more than the 64 MiB limit for this file"), "\(result.stderr)")
    }
}

/// Runs the executable with a deadline: past it the child is killed and the run says so.
/// Spawned with posix_spawn under GNU time, which reports the child's peak RSS: posix_spawn's
/// vfork-like start counts this whole test process in the child's own ru_maxrss.
enum BoundedRun {
    struct Result {
        var status: Int32
        var stdout: String
        var stderr: String
        var timedOut: Bool
        /// The child's peak resident set (`/usr/bin/time`'s %M), in MiB; 0 when it was killed.
        var peakMebibytes: Int
    }

    /// pipe2(O_CLOEXEC) is not imported: the lock keeps every spawn of ours out of the
    /// window between pipe() and FD_CLOEXEC, so no other child inherits these pipes.
    private static let spawning = NSLock()

    /// Whether the tests run under a sanitizer (scripts/test sets FABRICGUARD_SANITIZER).
    static let sanitized = ProcessInfo.processInfo.environment["FABRICGUARD_SANITIZER"] != nil

    static func run(_ arguments: [String], input: Data? = nil, deadline: Duration) throws -> Result {
        spawning.lock()
        var stdinPipe: [Int32] = [-1, -1], outPipe: [Int32] = [-1, -1], errPipe: [Int32] = [-1, -1]
        guard pipe(&outPipe) == 0, pipe(&errPipe) == 0, input == nil || pipe(&stdinPipe) == 0 else {
            spawning.unlock()
            throw POSIXError(POSIXErrorCode(rawValue: errno) ?? .EIO)
        }
        for end in outPipe + errPipe + stdinPipe where end >= 0 { _ = fcntl(end, F_SETFD, FD_CLOEXEC) }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        if input != nil {
            posix_spawn_file_actions_adddup2(&actions, stdinPipe[0], 0)
        } else {
            posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        }
        posix_spawn_file_actions_adddup2(&actions, outPipe[1], 1)
        posix_spawn_file_actions_adddup2(&actions, errPipe[1], 2)
        let report = FileManager.default.temporaryDirectory.path + "/fg-peak-\(getpid())-\(UUID().uuidString)"
        defer { unlink(report) }
        let argv = (["/usr/bin/time", "-f", "%M", "-o", report, CLITests.executable.path] + arguments).map { strdup($0) } + [nil]
        defer { argv.forEach { free($0) } }
        var pid: pid_t = 0
        let spawned = SpawnAttributes.withCleanSignals(newProcessGroup: true) { attributes in
            posix_spawn(&pid, "/usr/bin/time", &actions, attributes, argv, environ)
        }
        for end in [stdinPipe[0], outPipe[1], errPipe[1]] where end >= 0 { close(end) }
        spawning.unlock()
        guard spawned == 0 else {
            for end in [stdinPipe[1], outPipe[0], errPipe[0]] where end >= 0 { close(end) }
            throw POSIXError(POSIXErrorCode(rawValue: spawned) ?? .EIO)
        }
        // Output is drained while the child runs so a full pipe cannot stall it.
        let outputs = OutputDrain(out: outPipe[0], err: errPipe[0])
        if let input {
            // The child may stop reading (a cap): a write to its closed pipe must fail, not kill the runner.
            signal(SIGPIPE, SIG_IGN)
            let writer = stdinPipe[1]
            DispatchQueue.global().async {
                input.withUnsafeBytes { bytes in
                    var written = 0
                    while written < bytes.count {
                        let count = write(writer, bytes.baseAddress! + written, bytes.count - written)
                        if count <= 0 { break }
                        written += count
                    }
                }
                close(writer)
            }
        }
        var status: Int32 = 0
        var timedOut = false
        // A sanitized build runs several times slower (reading 64 MiB of standard input
        // under TSan took past 20 s on a CI run): its bound is wider, still finite.
        let end = ContinuousClock.now + deadline * (sanitized ? 6 : 1)
        while waitpid(pid, &status, WNOHANG) == 0 {
            if ContinuousClock.now >= end {
                timedOut = true
                kill(-pid, SIGKILL)  // time and the command under it
                while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
                break
            }
            usleep(2_000)
        }
        let (stdout, stderr) = outputs.collect()
        let exit = status & 0x7f == 0 ? (status >> 8) & 0xff : 128 + status & 0x7f
        return Result(
            status: exit, stdout: stdout, stderr: stderr, timedOut: timedOut,
            peakMebibytes: (try? String(contentsOfFile: report, encoding: .utf8))?
                .split(separator: "\n").last.flatMap { Int($0) }.map { $0 / 1024 } ?? 0)
    }

    final class OutputDrain: @unchecked Sendable {
        private var out: [UInt8] = [], err: [UInt8] = []
        private let group = DispatchGroup()

        init(out: Int32, err: Int32) {
            group.enter()
            DispatchQueue.global().async {
                self.out = Self.readAll(out)
                self.group.leave()
            }
            group.enter()
            DispatchQueue.global().async {
                self.err = Self.readAll(err)
                self.group.leave()
            }
        }

        static func readAll(_ descriptor: Int32) -> [UInt8] {
            defer { close(descriptor) }
            var bytes: [UInt8] = []
            var buffer = [UInt8](repeating: 0, count: 65536)
            while true {
                let count = buffer.withUnsafeMutableBytes { read(descriptor, $0.baseAddress, $0.count) }
                if count < 0 && errno == EINTR { continue }
                if count <= 0 { return bytes }
                bytes += buffer[..<count]
            }
        }

        func collect() -> (String, String) {
            group.wait()
            return (String(decoding: out, as: UTF8.self), String(decoding: err, as: UTF8.self))
        }
    }
}

/// `dry-run` on captures that are not Ethernet, or were cut by a small snaplen.
@Suite("dry-run on raw IP and cut captures")
struct DryRunCaptureCLITests {
    static let foreign = FrameBuilder.udp4(source: IPAddress("10.2.0.10")!, destination: IPAddress("10.1.0.1")!)
    static let own = FrameBuilder.udp6(source: IPAddress("fd00:a::10")!, destination: IPAddress("fd00:a::1")!)

    /// A classic pcap; `snaplen` keeps that many bytes of each frame, as `tcpdump -s` does.
    static func pcap(linkType: UInt32, frames: [[UInt8]], snaplen: Int = 262_144, name: String) throws -> String {
        func le32(_ value: Int) -> [UInt8] { withUnsafeBytes(of: UInt32(value).littleEndian) { Array($0) } }
        var bytes = le32(0xa1b2_c3d4) + [2, 0, 4, 0] + le32(0) + le32(0) + le32(snaplen) + le32(Int(linkType))
        for frame in frames {
            let kept = frame.prefix(snaplen)
            bytes += le32(1_700_000_000) + le32(0) + le32(kept.count) + le32(frame.count) + kept
        }
        return try BadInputTests.write(bytes, name)
    }

    func dryRun(_ capture: String, _ extra: String...) throws -> BoundedRun.Result {
        try BoundedRun.run(
            ["dry-run", "--policy", CLITests.path("policy.yaml"), "--host", CLITests.path("host.json"), "--pcap", capture] + extra,
            deadline: .seconds(20))
    }

    @Test func aSmallSnaplenIsNotAViolation() throws {
        let cut = try Self.pcap(linkType: 1, frames: [Self.foreign, Self.own, Self.foreign], snaplen: 20, name: "s20.pcap")
        let text = try dryRun(cut, "--interface", "sana0", "--direction", "egress", "--fail-on-violation")
        #expect(text.status == 0, "\(text.stderr)")
        #expect(text.stdout.contains("3 frames, 0 judged, 0 unattributed, 3 capture_truncated"), "\(text.stdout)")
        #expect(text.stdout.contains("verdicts: pass 0, drop 0, redirect 0"))
        let json = try dryRun(cut, "--interface", "sana0", "--direction", "egress", "--json")
        let report = try #require(try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [String: Any])
        #expect(report["capture_truncated"] as? Int == 3)
        #expect(report["packets"] as? Int == 0)

        // The same frames kept whole: the foreign ones are violations.
        let whole = try Self.pcap(linkType: 1, frames: [Self.foreign, Self.own, Self.foreign], name: "whole.pcap")
        let full = try dryRun(whole, "--interface", "sana0", "--direction", "egress", "--fail-on-violation")
        #expect(full.status == 3, "\(full.stdout)\(full.stderr)")
        // Kept down to the end of the IPv6 header: judged, and so still a violation.
        let kept = try Self.pcap(linkType: 1, frames: [Self.foreign, Self.own, Self.foreign], snaplen: 54, name: "s54.pcap")
        let judged = try dryRun(kept, "--interface", "sana0", "--direction", "egress", "--fail-on-violation")
        #expect(judged.status == 3)
        #expect(judged.stdout.contains("3 frames, 3 judged, 0 unattributed\n"), "\(judged.stdout)")
    }

    @Test(arguments: [UInt32(101), 228, 229])
    func rawIPCapturesAreJudgedLikeEthernet(linkType: UInt32) throws {
        let frames = linkType == 229 ? [Self.own, Self.own] : linkType == 228 ? [Self.foreign, Self.foreign] : [Self.foreign, Self.own]
        let ethernet = try dryRun(
            try Self.pcap(linkType: 1, frames: frames, name: "cli-eth-\(linkType).pcap"), "--interface", "sana0", "--direction", "egress", "--json")
        let raw = try dryRun(
            try Self.pcap(linkType: linkType, frames: frames.map { Array($0[14...]) }, name: "cli-raw-\(linkType).pcap"),
            "--interface", "sana0", "--direction", "egress", "--json")
        #expect(raw.status == 0 && ethernet.status == 0, "\(raw.stderr)")
        func counters(_ run: BoundedRun.Result) throws -> [String] {
            let report = try #require(try JSONSerialization.jsonObject(with: Data(run.stdout.utf8)) as? [String: Any])
            let rows = try #require(report["counters"] as? [[String: Any]])
            return rows.map { "\($0["interface"]!) \($0["reason"]!) \($0["action"]!) \($0["packets"]!) \($0["bytes"]!)" }
        }
        #expect(try counters(raw) == counters(ethernet))
        #expect(try !counters(raw).isEmpty)
        #expect(raw.stdout.contains("\"link_type\" : \"\(linkType == 228 ? "IPV4" : linkType == 229 ? "IPV6" : "RAW")\""), "\(raw.stdout)")
    }

    /// pcap_open_offline on a FIFO nobody writes to would block forever.
    @Test func aFIFOAsCaptureIsRefusedAtOnce() throws {
        let fifo = BadInputTests.directory + "/capture-fifo.pcap"
        unlink(fifo)
        #expect(mkfifo(fifo, 0o600) == 0)
        let result = try BoundedRun.run(
            ["dry-run", "--policy", CLITests.path("policy.yaml"), "--host", CLITests.path("host.json"), "--pcap", fifo],
            deadline: .seconds(5))
        #expect(!result.timedOut, "dry-run blocked on a FIFO")
        #expect(result.status == 1)
        #expect(result.stderr.contains("read capture \(fifo): not a regular file (FIFO); give a capture file, or - for standard input"), "\(result.stderr)")
    }

    @Test func aRawCaptureNeedsInterfaceAndDirection() throws {
        let raw = try Self.pcap(linkType: 101, frames: [Array(Self.foreign[14...])], name: "cli-raw-noflags.pcap")
        for extra in [[], ["--interface", "sana0"], ["--direction", "egress"]] {
            let result = try BoundedRun.run(
                ["dry-run", "--policy", CLITests.path("policy.yaml"), "--host", CLITests.path("host.json"), "--pcap", raw] + extra,
                deadline: .seconds(20))
            #expect(result.status == 2)
            #expect(result.stderr.contains("a raw IP (RAW) capture does not say where frames were seen: give --interface NAME and --direction egress|ingress"), "\(result.stderr)")
        }
    }
}
