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

    init(_ arguments: [String]) {
        for argument in arguments.dropFirst() {
            switch argument {
            case "--quick": quick = true
            case "--help", "-h":
                print("usage: fabricguard-bench [--quick]\n  prints a Markdown table of reference-path throughput")
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
