// scripts/bench: throughput figures that are never asserted in tests.
//
// Reference path: decisions per second on one core, over >= 4096 distinct
// frames (so lookups do not hit one cached key), IPv4 and IPv6, at 10 / 10k /
// 100k owner prefixes. Frames are half own-fabric sources (pass) and half
// another fabric's (violation), built once, then judged in a tight loop.

import FabricCompiler
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

struct SplitMix {
    var state: UInt64
    mutating func next() -> UInt64 {
        state &+= 0x9e37_79b9_7f4a_7c15
        var z = state
        z = (z ^ (z >> 30)) &* 0xbf58_476d_1ce4_e5b9
        z = (z ^ (z >> 27)) &* 0x94d0_49bb_1331_11eb
        return z ^ (z >> 31)
    }
}

/// A two-fabric world with `count` prefixes per family, split between the fabrics.
/// IPv4 prefixes are distinct random /24s, IPv6 distinct random /64s, so no two overlap.
struct World {
    var plan: MapPlan
    var ownV4: [IPAddress] = []
    var foreignV4: [IPAddress] = []
    var ownV6: [IPAddress] = []
    var foreignV6: [IPAddress] = []

    init(prefixes count: Int, seed: UInt64) throws {
        var random = SplitMix(state: seed)
        var v4 = Set<UInt32>()
        while v4.count < count { v4.insert(UInt32(truncatingIfNeeded: random.next()) >> 8) }
        var v6 = Set<UInt64>()
        while v6.count < count { v6.insert(0xfd00_0000_0000_0000 | random.next() >> 8) }
        let v4Prefixes = v4.sorted().map { try! IPPrefix(address: .v4($0 << 8), length: 24) }
        let v6Prefixes = v6.sorted().map { try! IPPrefix(address: .v6(UInt128($0) << 64), length: 64) }

        var fabricA: [IPPrefix] = []
        var fabricB: [IPPrefix] = []
        for (index, prefix) in (v4Prefixes + v6Prefixes).enumerated() {
            if index % 2 == 0 { fabricA.append(prefix) } else { fabricB.append(prefix) }
        }
        let policy = Policy(fabrics: [
            Fabric(name: "san-a", interfaces: ["sana0"], prefixes: fabricA),
            Fabric(name: "san-b", interfaces: ["sanb0"], prefixes: fabricB),
        ])
        let inventory = HostInventory(interfaces: [
            HostInterface(name: "sana0", index: 3, up: true, running: true, mac: nil, addresses: []),
            HostInterface(name: "sanb0", index: 4, up: true, running: true, mac: nil, addresses: []),
        ])
        plan = try PolicyCompiler.compile(policy, host: inventory).plan

        // Hosts inside the prefixes: fabric A's are "own" on sana0, fabric B's "foreign".
        func host(in prefix: IPPrefix) -> IPAddress {
            switch prefix.address {
            case .v4(let base): .v4(base | UInt32(truncatingIfNeeded: random.next()) & 0xff)
            case .v6(let base): .v6(base | UInt128(random.next()))
            }
        }
        for index in 0..<World.distinctFrames {
            let pickA = fabricA[Int(random.next() % UInt64(fabricA.count))]
            let pickB = fabricB[Int(random.next() % UInt64(fabricB.count))]
            _ = index
            if pickA.family == .ipv4 { ownV4.append(host(in: pickA)) } else { ownV6.append(host(in: pickA)) }
            if pickB.family == .ipv4 { foreignV4.append(host(in: pickB)) } else { foreignV6.append(host(in: pickB)) }
        }
        // Top up each family to the distinct-frame count (the picks above split by family).
        let a4 = fabricA.filter { $0.family == .ipv4 }, b4 = fabricB.filter { $0.family == .ipv4 }
        let a6 = fabricA.filter { $0.family == .ipv6 }, b6 = fabricB.filter { $0.family == .ipv6 }
        while ownV4.count < World.distinctFrames { ownV4.append(host(in: a4[Int(random.next() % UInt64(a4.count))])) }
        while foreignV4.count < World.distinctFrames { foreignV4.append(host(in: b4[Int(random.next() % UInt64(b4.count))])) }
        while ownV6.count < World.distinctFrames { ownV6.append(host(in: a6[Int(random.next() % UInt64(a6.count))])) }
        while foreignV6.count < World.distinctFrames { foreignV6.append(host(in: b6[Int(random.next() % UInt64(b6.count))])) }
    }

    static let distinctFrames = 4096

    /// Frames leaving sana0: alternately an own source and a foreign one.
    func frames(_ family: IPAddress.Family) -> [[UInt8]] {
        let own = family == .ipv4 ? ownV4 : ownV6
        let foreign = family == .ipv4 ? foreignV4 : foreignV6
        let destination = family == .ipv4 ? IPAddress("192.0.2.1")! : IPAddress("2001:db8::1")!
        return (0..<World.distinctFrames).map { index in
            FrameBuilder.udp(source: index % 2 == 0 ? own[index] : foreign[index], destination: destination)
        }
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
print("\(World.distinctFrames) distinct frames per run, half own-fabric sources and half foreign (dropped); \(decisions) decisions per round, best of \(rounds).")
print("")
print("| prefixes per family | family | M decisions/s | ns/decision |")
print("|---:|---|---:|---:|")
for size in sizes {
    let world = try World(prefixes: size, seed: 0xfab1c + UInt64(size))
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
