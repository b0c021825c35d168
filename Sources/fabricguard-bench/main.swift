// scripts/bench: throughput figures that are never asserted in tests.
//
// Reference path: decisions per second on one core, over >= 4096 distinct
// frames (so lookups do not hit one cached key), IPv4 and IPv6, at 10 / 10k /
// 100k owner prefixes. Frames are half own-fabric sources (pass) and half
// another fabric's (violation), built once, then judged in a tight loop.

import FabricCompiler
import FabricFixtures
import FabricHost
import FabricPolicy
import FabricReference

import Foundation

struct Options {
    var quick = false
    /// --write-capture DIR FRAMES PREFIXES: write a dry-run benchmark capture, policy and host file instead.
    var capture: (directory: String, frames: Int, prefixes: Int)?
    /// --blast FROM TO PORT SECONDS: UDP as fast as one core sends it; prints JSON.
    var blast: (source: String, destination: String, port: UInt16, seconds: Double)?
    /// --udp-echo ON PORT IDLE_SECONDS: echo UDP, busy-polling, until the stop datagram or IDLE_SECONDS of quiet.
    var echo: (address: String, port: UInt16, idleSeconds: Double)?
    /// --udp-rtt FROM TO PORT COUNT: COUNT round trips to an --udp-echo, busy-polling; prints JSON.
    var rtt: (source: String, destination: String, port: UInt16, count: Int)?

    init(_ arguments: [String]) {
        var rest = arguments.dropFirst()
        while let argument = rest.popFirst() {
            switch argument {
            case "--quick": quick = true
            case "--write-capture":
                guard let directory = rest.popFirst(), let frames = rest.popFirst().flatMap({ Int($0) }),
                    let prefixes = rest.popFirst().flatMap({ Int($0) })
                else {
                    FileOutput.error("fabricguard-bench: --write-capture DIR FRAMES PREFIXES")
                    exit(2)
                }
                capture = (directory, frames, prefixes)
            case "--blast":
                guard let source = rest.popFirst(), let destination = rest.popFirst(),
                      let port = rest.popFirst().flatMap({ UInt16($0) }), let seconds = rest.popFirst().flatMap({ Double($0) })
                else {
                    FileOutput.error("fabricguard-bench: --blast FROM TO PORT SECONDS")
                    exit(2)
                }
                blast = (source, destination, port, seconds)
            case "--udp-echo":
                guard let address = rest.popFirst(), let port = rest.popFirst().flatMap({ UInt16($0) }),
                      let idle = rest.popFirst().flatMap({ Double($0) })
                else {
                    FileOutput.error("fabricguard-bench: --udp-echo ON PORT IDLE_SECONDS")
                    exit(2)
                }
                echo = (address, port, idle)
            case "--udp-rtt":
                guard let source = rest.popFirst(), let destination = rest.popFirst(),
                      let port = rest.popFirst().flatMap({ UInt16($0) }), let count = rest.popFirst().flatMap({ Int($0) }), count > 0
                else {
                    FileOutput.error("fabricguard-bench: --udp-rtt FROM TO PORT COUNT")
                    exit(2)
                }
                rtt = (source, destination, port, count)
            case "--help", "-h":
                print("""
                    usage: fabricguard-bench [--quick]
                      prints a Markdown table of reference-path throughput
                    scripts/bench's helpers (each prints one JSON line):
                      --blast FROM TO PORT SECONDS            UDP as fast as one core sends it
                      --udp-echo ON PORT IDLE_SECONDS         echo UDP, busy-polling, until told to stop or idle
                      --udp-rtt FROM TO PORT COUNT            COUNT round trips to an --udp-echo, busy-polling
                      --write-capture DIR FRAMES PREFIXES     a dry-run benchmark capture, policy and host file
                    """)
                exit(0)
            default:
                FileOutput.error("fabricguard-bench: unknown argument '\(argument)' (try --help)")
                exit(2)
            }
        }
    }
}

enum FileOutput {
    static func error(_ text: String) {
        FileHandle.standardError.write(Data((text + "\n").utf8))
    }
}

/// Decisions per second over `frames`, best of `rounds` (the least disturbed by the other core's tenants).
func measure(_ datapath: ReferenceDatapath, frames: [[UInt8]], decisions: Int, rounds: Int) -> (rate: Double, drops: Int) {
    // One contiguous buffer with fixed-stride frames: no array-of-arrays indirection in the loop.
    let stride = (frames.map(\.count).max() ?? 0 + 63) / 64 * 64 + 64
    var buffer = [UInt8](repeating: 0, count: stride * frames.count)
    for (index, frame) in frames.enumerated() { buffer.replaceSubrange(index * stride..<index * stride + frame.count, with: frame) }
    let lengths = frames.map(\.count)
    var best = 0.0
    var drops = 0
    buffer.withUnsafeBytes { all in
        for _ in 0..<rounds {
            drops = 0
            let clock = ContinuousClock()
            let start = clock.now
            var index = 0
            for _ in 0..<decisions {
                let frame = UnsafeRawBufferPointer(rebasing: all[index * stride..<index * stride + lengths[index]])
                if datapath.decide(frame: frame, ifindex: 3, direction: .egress).action == .drop { drops += 1 }
                index = index + 1 == frames.count ? 0 : index + 1
            }
            let elapsed = clock.now - start
            let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) * 1e-18
            best = max(best, Double(decisions) / seconds)
        }
    }
    return (best, drops)
}

let options = Options(CommandLine.arguments)
if let blast = options.blast {
    let result = Blast.run(source: blast.source, destination: blast.destination, port: blast.port, seconds: blast.seconds)
    print("{\"sent\": \(result.sent), \"seconds\": \(result.seconds)}")
    exit(0)
}
if let echo = options.echo {
    print("{\"echoed\": \(RoundTrip.echo(on: echo.address, port: echo.port, idleSeconds: echo.idleSeconds))}")
    exit(0)
}
if let rtt = options.rtt {
    let result = RoundTrip.measure(source: rtt.source, destination: rtt.destination, port: rtt.port, count: rtt.count)
    let sorted = result.microseconds.sorted()
    let pick = { (q: Double) in sorted.isEmpty ? "null" : String(format: "%.3f", sorted[min(sorted.count - 1, Int(q * Double(sorted.count)))]) }
    print("{\"count\": \(sorted.count), \"lost\": \(result.lost), \"median_us\": \(pick(0.5)), \"p99_us\": \(pick(0.99))}")
    exit(0)
}
if let capture = options.capture {
    try CaptureWriter.write(directory: capture.directory, frames: capture.frames, prefixes: capture.prefixes)
    exit(0)
}
let decisions = options.quick ? 1_000_000 : 10_000_000
let rounds = options.quick ? 2 : 5
let sizes = [10, 10_000, 100_000]

print("## Reference path (pure Swift), one core")
print("")
print("\(BenchWorld.distinctFrames) distinct frames per run, half own-fabric sources and half foreign (dropped); \(decisions) decisions per round, best of \(rounds).")
print("")
print("| prefixes per family | family | M decisions/s | ns/decision |")
print("|---:|---|---:|---:|")
for size in sizes {
    let world = try BenchWorld(prefixes: size, seed: 0xfab1c + UInt64(size))
    let datapath = ReferenceDatapath(plan: world.plan)
    for family in [IPAddress.Family.ipv4, .ipv6] {
        let result = measure(datapath, frames: world.frames(family), decisions: decisions, rounds: rounds)
        // Half the frames are foreign: a wrong count means the benchmark measured the wrong thing.
        guard result.drops == decisions / 2 else {
            FileOutput.error("fabricguard-bench: expected \(decisions / 2) drops, saw \(result.drops)")
            exit(1)
        }
        let rate = result.rate / 1e6
        print("| \(size) | \(family == .ipv4 ? "IPv4" : "IPv6") | \(String(format: "%.1f", rate)) | \(String(format: "%.1f", 1e3 / rate)) |")
    }
}

/// A classic pcap (Ethernet) of `frames` frames cycling over the bench world's
/// 4096 IPv4 and 4096 IPv6 frames, plus the world's policy and host inventory.
enum CaptureWriter {
    static func write(directory: String, frames: Int, prefixes: Int) throws {
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let world = try BenchWorld(prefixes: prefixes, seed: 0xd4e)
        try world.policyYAML.write(toFile: directory + "/policy.yaml", atomically: true, encoding: .utf8)
        try BenchWorld.defaultHost.json().write(to: URL(fileURLWithPath: directory + "/host.json"))
        let mixed = zip(world.framesV4, world.framesV6).flatMap { [$0, $1] }
        func le32(_ value: UInt32) -> [UInt8] { withUnsafeBytes(of: value.littleEndian) { Array($0) } }
        guard let file = FileHandle(forWritingAtPath: createEmpty(directory + "/bench.pcap")) else {
            throw CocoaError(.fileWriteUnknown)
        }
        defer { try? file.close() }
        var chunk: [UInt8] = le32(0xa1b2_c3d4) + [2, 0, 4, 0] + le32(0) + le32(0) + le32(65535) + le32(1)
        for index in 0..<frames {
            let frame = mixed[index % mixed.count]
            chunk += le32(1_700_000_000 + UInt32(index / 1_000_000)) + le32(UInt32(index % 1_000_000))
            chunk += le32(UInt32(frame.count)) + le32(UInt32(frame.count)) + frame
            if chunk.count > 1 << 22 {
                file.write(Data(chunk))
                chunk.removeAll(keepingCapacity: true)
            }
        }
        file.write(Data(chunk))
    }

    static func createEmpty(_ path: String) -> String {
        _ = FileManager.default.createFile(atPath: path, contents: nil)
        return path
    }
}
