import CFabricABI
import FabricBPF
import FabricCompiler
import FabricPolicy
import Foundation
import Testing

/// The differential write of a bank's bucket array into a real inner map:
/// a small change writes a few blocks, and what the kernel holds afterwards
/// is byte for byte the new layout, as a whole write would leave it.
@Suite("Kernel tier: differential bank writes", .enabled(if: KernelGate.enabled, KernelGate.skipMessage), .serialized)
struct BucketWriteTests {
    /// `count` host routes under 11.0.0.0/8 and 12.0.0.0/8, one left out if asked, sorted.
    static func layout(_ count: Int, skipping skipped: Int? = nil) -> PrefixBuckets {
        PrefixBuckets((0..<count).filter { $0 != skipped }.map { index in
            let first: UInt32 = index % 2 == 0 ? 11 : 12
            return PrefixEntry(prefix: IPPrefix(covering: .v4(first << 24 | UInt32(index / 2)), length: 32), fabricID: first - 10, exempt: false)
        }.sorted { $0.prefix < $1.prefix })
    }

    /// The first `count` bytes of the array pinned at `pin`, read with map lookups.
    static func read(_ pin: String, count: Int) throws -> [UInt8] {
        let map = try BPFMap.pinned(at: pin, name: ABIMaps.buckets.name)
        var bytes: [UInt8] = []
        bytes.reserveCapacity(count)
        for index in 0..<UInt32(count / PrefixBuckets.bucketSize) {
            bytes += try map.lookup(key: withUnsafeBytes(of: index) { Array($0) }) ?? []
        }
        return bytes
    }

    @Test func aOnePrefixChangeWritesAFewBlocksAndTheBankEqualsTheNewLayout() throws {
        let object = try BPFObject()
        try object.load()
        let prefixes = try object.map(FG_MAP_PREFIXES)
        let directory = "/sys/fs/bpf/fg-bucketwrite-\(getpid())"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let (pin, sumsPin) = ("\(directory)/fg_buckets-1", "\(directory)/fg_bucket_sums-1")
        func write(_ buckets: PrefixBuckets, sums: Bool = true) throws -> Int {
            try prefixes.writeBuckets(slot: 1, bytes: buckets.bytes, sums: sums ? buckets.blockSums : [], pin: pin, sumsPin: sumsPin)
        }

        let before = Self.layout(60_000), after = Self.layout(60_000, skipping: 31_337)
        let total = BucketBlocks.count(bytes: after.bytes.count)
        #expect(try write(before) == total)  // a new array: everything
        #expect(try write(before) == 0)  // the same again: nothing
        let changed = try write(after)
        #expect(changed >= 1 && changed <= 3, "\(changed) of \(total) blocks written")
        #expect(try Self.read(pin, count: after.bytes.count) == after.bytes)

        // A write without sums leaves nothing trusted: the next one is whole,
        // as after an apply cut short between forgetting and remembering.
        #expect(try write(before, sums: false) == total)
        #expect(try write(after) == total)
        #expect(try Self.read(pin, count: after.bytes.count) == after.bytes)
        #expect(try write(before) == changed)
        #expect(try Self.read(pin, count: before.bytes.count) == before.bytes)
    }
}
