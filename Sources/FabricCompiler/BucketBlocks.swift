/// A bank's bucket array seen as 4 KiB blocks, each with a sum of its
/// contents, so that rewriting a bank with a policy that changed little
/// touches only the blocks that changed: a one-prefix change on a million
/// prefixes moves a key or two within one table (the layout is a function of
/// the sorted keys, and a table keeps its size and place unless its key count
/// crosses a power of two), so a few blocks out of 32,768.
///
/// A sum adds up one mix per filled slot (position, key, value), so equal
/// blocks have equal sums, a zeroed block sums to zero, and the compiler gets
/// each sum while it places keys, without a pass over the bytes. Two blocks
/// that differ have equal sums with a probability of about 2^-128.
public enum BucketBlocks {
    public static let bytes = 4096
    public static let buckets = bytes / PrefixBuckets.bucketSize

    /// Blocks covering `bytes` bytes (the last one may be short).
    public static func count(bytes: Int) -> Int { (bytes + Self.bytes - 1) / Self.bytes }

    public struct Sum: Sendable, Equatable {
        public var low: UInt64
        public var high: UInt64

        public static let zero = Sum(low: 0, high: 0)

        public init(low: UInt64, high: UInt64) {
            self.low = low
            self.high = high
        }

        /// Adds a filled slot: its index within the block, its key words and value.
        mutating func add(slot: Int, w0: UInt64, w1: UInt64, value: UInt32) {
            let first = Self.mix(w0 &+ UInt64(slot) &* 0xd6e8_feb8_6659_fd93)
            let second = Self.mix(first ^ w1)
            let third = Self.mix(second ^ (UInt64(value) | UInt64(slot) << 32))
            low &+= third
            high &+= Self.mix(third ^ 0x5851_f42d_4c95_7f2d)
        }

        /// splitmix64's finalizer.
        static func mix(_ x: UInt64) -> UInt64 {
            var z = x &+ 0x9e37_79b9_7f4a_7c15
            z = (z ^ (z >> 30)) &* 0xbf58_476d_1ce4_e5b9
            z = (z ^ (z >> 27)) &* 0x94d0_49bb_1331_11eb
            return z ^ (z >> 31)
        }
    }

    /// The runs of blocks to write so that a bank holding blocks summed as
    /// `held` (nil: unknown, write everything) ends holding `wanted`'s blocks:
    /// every block whose sum differs, and every block past what `held` knows.
    /// Adjacent blocks come as one run. Blocks past `wanted` are left alone:
    /// the programs read only the tables the new policy lists.
    public static func runs(wanted: [Sum], held: [Sum]?) -> [Range<Int>] {
        guard let held else { return wanted.isEmpty ? [] : [0..<wanted.count] }
        var runs: [Range<Int>] = []
        var start: Int?
        for index in 0...wanted.count {
            let differs = index < wanted.count && (index >= held.count || held[index] != wanted[index])
            if differs, start == nil { start = index }
            if !differs, let first = start {
                runs.append(first..<index)
                start = nil
            }
        }
        return runs
    }
}
