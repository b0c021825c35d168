import FabricCompiler
import FabricPolicy
import Testing

/// The differential bank write's plan: which 4 KiB blocks a writer touches
/// to turn one layout into another, played out on a byte array standing in
/// for the bank.
@Suite struct BucketBlocksTests {
    /// `count` host routes under 11.0.0.0/8 and 12.0.0.0/8 (scripts/bench's
    /// policy shape), owned by fabrics 1 and 2, sorted as a plan holds them.
    static func hostRoutes(_ count: Int, skipping skipped: Int? = nil) -> [PrefixEntry] {
        (0..<count).filter { $0 != skipped }.map { index in
            let first: UInt32 = index % 2 == 0 ? 11 : 12
            let prefix = IPPrefix(covering: .v4(first << 24 | UInt32(index / 2)), length: 32)
            return PrefixEntry(prefix: prefix, fabricID: first - 10, exempt: false)
        }.sorted { $0.prefix < $1.prefix }
    }

    /// What a bank holding `held` holds after the writer's runs of `wanted`,
    /// and how many blocks it wrote: the spy a real writer is checked against.
    static func write(_ wanted: PrefixBuckets, over held: PrefixBuckets?) -> (bank: [UInt8], blocks: Int) {
        var bank = held?.bytes ?? []
        if bank.count < wanted.bytes.count { bank += [UInt8](repeating: 0, count: wanted.bytes.count - bank.count) }
        var blocks = 0
        for run in BucketBlocks.runs(wanted: wanted.blockSums, held: held?.blockSums) {
            let range = run.lowerBound * BucketBlocks.bytes..<min(run.upperBound * BucketBlocks.bytes, wanted.bytes.count)
            bank.replaceSubrange(range, with: wanted.bytes[range])
            blocks += run.count
        }
        return (bank, blocks)
    }

    @Test func aOnePrefixChangeRewritesAFewBlocksAndEndsEqualToAFullWrite() {
        let before = PrefixBuckets(Self.hostRoutes(60_000))
        let after = PrefixBuckets(Self.hostRoutes(60_000, skipping: 31_337))
        #expect(before.v4.map(\.buckets) == after.v4.map(\.buckets), "the change should keep the table's size")
        let total = BucketBlocks.count(bytes: after.bytes.count)
        let (bank, blocks) = Self.write(after, over: before)
        #expect(bank.prefix(after.bytes.count).elementsEqual(after.bytes))
        #expect(blocks >= 1 && blocks <= 3, "\(blocks) of \(total) blocks written")
        #expect(total > 500)

        // And back: adding the prefix again restores the first layout exactly.
        let (restored, again) = Self.write(before, over: after)
        #expect(restored.prefix(before.bytes.count).elementsEqual(before.bytes))
        #expect(again == blocks)
    }

    @Test func theSameLayoutWritesNothingAndAnUnknownBankIsWrittenWhole() {
        let buckets = PrefixBuckets(Self.hostRoutes(5_000))
        #expect(BucketBlocks.runs(wanted: buckets.blockSums, held: buckets.blockSums).isEmpty)
        #expect(BucketBlocks.runs(wanted: buckets.blockSums, held: nil) == [0..<buckets.blockSums.count])
        // A bank that knows fewer blocks than the new layout has: the rest are written.
        let known = Array(buckets.blockSums.prefix(3))
        #expect(BucketBlocks.runs(wanted: buckets.blockSums, held: known) == [3..<buckets.blockSums.count])
    }

    /// Sums tell blocks apart exactly where the bytes differ (a zeroed block sums to zero).
    @Test(arguments: [1 as UInt64, 2])
    func sumsDifferExactlyWhereTheBytesDo(seed: UInt64) {
        let before = PrefixBuckets(PrefixBucketsTests.randomEntries(seed: seed, count: 4_000))
        let after = PrefixBuckets(PrefixBucketsTests.randomEntries(seed: seed, count: 4_001))
        for buckets in [before, after] {
            #expect(buckets.blockSums.count == BucketBlocks.count(bytes: buckets.bytes.count))
            for (index, sum) in buckets.blockSums.enumerated() {
                let block = buckets.bytes[index * BucketBlocks.bytes..<min((index + 1) * BucketBlocks.bytes, buckets.bytes.count)]
                #expect((sum == .zero) == block.allSatisfy { $0 == 0 }, "block \(index)")
            }
        }
        // Blocks whole in both layouts (a short last block sums only what it has).
        for index in 0..<min(before.bytes.count, after.bytes.count) / BucketBlocks.bytes {
            let range = index * BucketBlocks.bytes..<(index + 1) * BucketBlocks.bytes
            #expect((before.blockSums[index] == after.blockSums[index]) == before.bytes[range].elementsEqual(after.bytes[range]), "block \(index)")
        }
        let (bank, _) = Self.write(after, over: before)
        #expect(bank.prefix(after.bytes.count).elementsEqual(after.bytes))
    }
}
