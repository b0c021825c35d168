import FabricFixtures
import FabricFuzz
import Foundation
import Testing

/// Every seed of Fuzz/corpus through its harness: the seeds stay valid inputs
/// and the harnesses run in the pure tier, without a fuzzer build.
/// FABRICGUARD_WRITE_SEEDS=1 regenerates the corpus first (see SeedCorpus).
@Suite("Fuzz harnesses over their seed corpora")
struct SeedTests {
    static let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    static let corpus = repository.appendingPathComponent("Fuzz/corpus")

    @Test func seedsRunThroughTheirHarness() throws {
        if ProcessInfo.processInfo.environment["FABRICGUARD_WRITE_SEEDS"] == "1" { try Self.writeSeeds() }
        var total = 0
        for target in SeedCorpus.targets {
            let harness = try #require(SeedCorpus.harness(target))
            let directory = Self.corpus.appendingPathComponent(target)
            let names = try FileManager.default.contentsOfDirectory(atPath: directory.path).sorted()
            #expect(names.count >= 3, "Fuzz/corpus/\(target) has \(names.count) seeds")
            for name in names {
                let bytes = try Data(contentsOf: directory.appendingPathComponent(name))
                bytes.withUnsafeBytes { harness($0) }
                total += bytes.count
            }
        }
        #expect(total < 1_000_000, "the seed corpora have grown to \(total) bytes")
    }

    /// The frame encoding round-trips, and mutations stay decodable.
    @Test func frameEncoding() throws {
        var random = SplitMix64(seed: 17)
        for fixture in Fixtures.all {
            let input = FuzzFrame(interface: fixture.interface, direction: fixture.direction, frame: fixture.frame)
            #expect(FuzzFrame(input.encoded) == input)
            let mutated = input.mutated(&random)
            #expect(FuzzFrame(mutated.encoded) == mutated)
            mutated.encoded.withUnsafeBytes { FuzzHarness.frame($0) }
        }
    }

    static func writeSeeds() throws {
        for (target, seeds) in try SeedCorpus.seeds(repository: repository) {
            // Generated seeds are rewritten; `regress-*` files are crashes the fuzzer
            // found, added by hand, and stay.
            let directory = corpus.appendingPathComponent(target)
            try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
            for name in try FileManager.default.contentsOfDirectory(atPath: directory.path) where !name.hasPrefix("regress-") {
                try FileManager.default.removeItem(at: directory.appendingPathComponent(name))
            }
            for seed in seeds { try Data(seed.bytes).write(to: directory.appendingPathComponent(seed.name)) }
        }
    }
}
