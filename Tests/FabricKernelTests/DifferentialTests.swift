import Foundation
import Testing

/// Every fixture and 100,000 seeded random frames through BPF_PROG_TEST_RUN on
/// each entry point: the kernel's verdict must equal the reference path's.
/// The run happens in fabricguard-selftest inside a throwaway namespace (it
/// creates the fixture world's interfaces there, so their ifindexes exist).
@Suite("Kernel tier: kernel verdict == reference verdict", .enabled(if: KernelGate.enabled, KernelGate.skipMessage))
struct DifferentialTests {
    @Test func fixturesAndRandomFramesAgree() throws {
        let seed = ProcessInfo.processInfo.environment["FABRICGUARD_SEED"] ?? String(UInt32.random(in: 1...UInt32.max))
        let namespace = try Namespace("diff")
        defer { namespace.close() }
        let result = try namespace.run(["taskset", "-c", "0", Command.built("fabricguard-selftest"), "--seed", seed, "--random", "100000"])
        #expect(result.status == 0, "selftest failed (replay: FABRICGUARD_SEED=\(seed)):\n\(result.output)")
        #expect(result.output.contains(", 0 disagreements"), "\(result.output)")
        #expect(result.output.contains("counters equal"), "\(result.output)")
        // The source memo met swaps (run pinned to one CPU, so the memo it filled is the one it read).
        #expect(result.output.contains("verdicts changed") && !result.output.contains("not pinned"), "\(result.output)")
        // Guard against a run that judged nothing: fixtures on 3 hooks plus 100k random frames.
        let judged = result.output.split(separator: "\n").last { $0.contains("kernel verdicts") }
            .flatMap { $0.split(separator: " ").dropFirst().first.flatMap { Int($0) } } ?? 0
        #expect(judged > 100_000, "\(result.output)")
    }

    /// The frame fuzz target's seed corpus (Fuzz/corpus/frame) and seeded mutations of it
    /// through the kernel and the reference, each entry point of the frame's direction:
    /// 1,000,000 mutated frames judged (shorter than Ethernet or longer than the MTU: skipped).
    @Test func fuzzCorpusAndMutationsAgree() throws {
        let seed = ProcessInfo.processInfo.environment["FABRICGUARD_SEED"] ?? String(UInt32.random(in: 1...UInt32.max))
        let corpus = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("Fuzz/corpus/frame").path
        let namespace = try Namespace("fuzzdiff")
        defer { namespace.close() }
        let result = try namespace.run([
            Command.built("fabricguard-selftest"), "--seed", seed, "--random", "0", "--corpus", corpus, "--mutations", "1000000",
        ])
        #expect(result.status == 0, "selftest failed (replay: FABRICGUARD_SEED=\(seed)):\n\(result.output)")
        #expect(result.output.contains(", 0 disagreements"), "\(result.output)")
        let line = result.output.split(separator: "\n").last { $0.contains("selftest: corpus") } ?? ""
        let frames = line.split(separator: ": ").dropFirst(2).first?.split(separator: " ").first.flatMap { Int($0) } ?? 0
        #expect(frames >= 1_000_000, "\(result.output)")
    }
}
