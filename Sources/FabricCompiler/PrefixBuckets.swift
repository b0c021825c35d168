import CFabricABI
import FabricPolicy

/// The merged prefix table and the local addresses of a plan in the shape
/// the programs probe (fabricguard_abi.h, "Prefixes"): one open-addressing
/// hash table per (table set, prefix length), laid out as 64-byte buckets in
/// one array, and per set the list of its tables, longest length first.
/// Deterministic: built from the plan's sorted entries with a fixed hash, so
/// equal plans give equal bytes.
public struct PrefixBuckets: Sendable, Equatable {
    public static let bucketSize = MemoryLayout<fg_prefix_bucket>.stride
    static let slots = Int(FG_PREFIX_SLOTS)
    static let maxProbes = Int(FG_MAX_PROBES)

    /// fabricguard_abi.h's table sets: what a list of tables answers.
    public enum TableSet: Int, CaseIterable, Sendable {
        case ipv4 = 0, ipv6 = 1, locals = 2

        public init(_ family: IPAddress.Family) { self = family == .ipv4 ? .ipv4 : .ipv6 }
    }

    /// Where one table sits in the bucket array.
    public struct Table: Sendable, Equatable {
        /// The prefix length in the 16-byte form (IPv4: 96 + length).
        public var length: Int
        public var base: Int
        public var buckets: Int
        /// Bit `hash >> 58` of every key's hash.
        public var filter: UInt64 = 0

        var shift: Int { 64 - buckets.trailingZeroBitCount }
    }

    /// The bucket array, `bucketCount * bucketSize` bytes, for one bank's inner map.
    public private(set) var bytes: [UInt8]
    /// The tables of each set, longest length first.
    public private(set) var tables: [TableSet: [Table]] = [:]
    public var v4: [Table] { tables[.ipv4] ?? [] }
    public var v6: [Table] { tables[.ipv6] ?? [] }
    public var bucketCount: Int { bytes.count / Self.bucketSize }
    /// One sum per `BucketBlocks.bytes` of `bytes` (the last block may be
    /// short): what a writer compares with the sums of what a bank holds, to
    /// write only the blocks that differ.
    public private(set) var blockSums: [BucketBlocks.Sum] = []
    /// Keys placed past their home bucket: a lookup of one finds the home
    /// bucket full and probes on (the programs' slower path).
    public private(set) var keysAwayFromHome = 0

    /// `locals` in plan order: a local's index in fg_locals is its position.
    public init(_ prefixes: [PrefixEntry], locals: [LocalEntry] = []) {
        // A key is named by its index (a local's counts on from the prefixes') and
        // computed where it is needed, never stored: at a million prefixes the
        // keys and values would be 24 MB beside the 33 MB of buckets they fill.
        func key(_ index: UInt32) -> (key: AddressWords, value: UInt32) {
            let index = Int(index)
            if index < prefixes.count { return (AddressWords(prefixes[index].prefix.address), prefixes[index].bucketValue) }
            let local = index - prefixes.count
            return (AddressWords(locals[local].address), locals[local].bucketValue(index: local))
        }
        // Keys by set and length, in plan order (the plan is sorted).
        var groups: [Int: [UInt32]] = [:]
        for (index, entry) in prefixes.enumerated() {
            let length = entry.prefix.length + (entry.prefix.family == .ipv4 ? 96 : 0)
            groups[TableSet(entry.prefix.family).rawValue << 8 | length, default: []].append(UInt32(index))
        }
        for index in locals.indices {
            groups[TableSet.locals.rawValue << 8 | 128, default: []].append(UInt32(prefixes.count + index))
        }

        var placed: [(table: Table, keys: [UInt32], positions: [UInt32])] = []
        var next = 0
        for group in groups.keys.sorted(by: >) {
            let keys = groups.removeValue(forKey: group)!
            // At most two thirds of the slots filled, then doubled until every
            // key sits within FG_MAX_PROBES buckets of its home.
            var buckets = 2
            while buckets * 2 < keys.count { buckets *= 2 }
            while true {
                var table = Table(length: group & 0xff, base: next, buckets: buckets)
                table.filter = keys.reduce(0) { $0 | 1 << (key($1).key.hash >> 58) }
                if let positions = Self.place(keys.lazy.map { key($0).key }, in: table) {
                    placed.append((table, keys, positions))
                    keysAwayFromHome += zip(keys, positions).count {
                        key($0).key.home(shift: table.shift) & (buckets - 1) != Int($1) / Self.slots
                    }
                    next += buckets
                    tables[TableSet(rawValue: group >> 8)!, default: []].append(table)
                    break
                }
                buckets *= 2
            }
        }

        bytes = [UInt8](repeating: 0, count: next * Self.bucketSize)
        var sums = [BucketBlocks.Sum](repeating: .zero, count: BucketBlocks.count(bytes: bytes.count))
        bytes.withUnsafeMutableBytes { raw in
            for (table, keys, positions) in placed {
                for (index, position) in zip(keys, positions) {
                    let entry = key(index)
                    let position = Int(position)
                    let bucket = table.base + position / Self.slots
                    let start = bucket * Self.bucketSize
                    let slot = position % Self.slots
                    // Summed per slot from what the slot holds: no second pass over the bytes.
                    sums[bucket / BucketBlocks.buckets].add(
                        slot: bucket % BucketBlocks.buckets * Self.slots + slot, w0: entry.key.w0, w1: entry.key.w1, value: entry.value)
                    raw.storeBytes(of: entry.key.w0, toByteOffset: start + slot * 16, as: UInt64.self)
                    raw.storeBytes(of: entry.key.w1, toByteOffset: start + slot * 16 + 8, as: UInt64.self)
                    raw.storeBytes(of: entry.value, toByteOffset: start + Self.valueOffset + slot * 4, as: UInt32.self)
                }
            }
        }
        blockSums = sums
    }

    static let valueOffset = MemoryLayout<fg_prefix_bucket>.offset(of: \fg_prefix_bucket.value)!

    /// Each key's position (bucket * slots + slot within the table): the first
    /// free slot at or after its home bucket; nil when one would land more than
    /// FG_MAX_PROBES buckets away.
    private static func place(_ keys: some Collection<AddressWords>, in table: Table) -> [UInt32]? {
        var filled = [UInt8](repeating: 0, count: table.buckets)
        var positions: [UInt32] = []
        positions.reserveCapacity(keys.count)
        let mask = table.buckets - 1
        for key in keys {
            let home = key.home(shift: table.shift)
            guard let probe = (0..<maxProbes).first(where: { filled[(home + $0) & mask] < slots }) else { return nil }
            let bucket = (home + probe) & mask
            positions.append(UInt32(bucket * slots + Int(filled[bucket])))
            filled[bucket] += 1
        }
        return positions
    }

    /// The fg_prefix_tables value of one table set.
    public func abiTables(_ set: TableSet) -> fg_prefix_tables {
        let list = tables[set] ?? []
        var value = fg_prefix_tables()
        value.count = UInt32(list.count)
        withUnsafeMutableBytes(of: &value.table) { raw in
            for (index, table) in list.enumerated() {
                var entry = fg_prefix_table()
                let mask = AddressWords.netmask(length: table.length)
                withUnsafeMutableBytes(of: &entry.netmask) { netmask in
                    netmask.storeBytes(of: mask.w0, toByteOffset: 0, as: UInt64.self)
                    netmask.storeBytes(of: mask.w1, toByteOffset: 8, as: UInt64.self)
                }
                entry.base = UInt32(table.base)
                entry.mask = UInt32(table.buckets - 1)
                entry.shift = UInt32(table.shift)
                entry.length = UInt32(table.length)
                entry.filter = table.filter
                raw.storeBytes(of: entry, toByteOffset: index * MemoryLayout<fg_prefix_table>.stride, as: fg_prefix_table.self)
            }
        }
        return value
    }

    /// The value the programs find for `address` (0: no prefix contains it),
    /// probing exactly as decide.h does; the layout tests check it against the
    /// reference trie.
    public func value(for address: IPAddress) -> UInt32 { value(for: address, in: TableSet(address.family)) }

    /// The local table's value for one of the host's addresses (0: not one).
    public func localValue(for address: IPAddress) -> UInt32 { value(for: address, in: .locals) }

    func value(for address: IPAddress, in set: TableSet) -> UInt32 {
        let words = AddressWords(address)
        for table in tables[set] ?? [] {
            let mask = AddressWords.netmask(length: table.length)
            let key = AddressWords(w0: words.w0 & mask.w0, w1: words.w1 & mask.w1)
            guard table.filter >> (key.hash >> 58) & 1 == 1 else { continue }
            let home = key.home(shift: table.shift)
            probing: for probe in 0..<Self.maxProbes {
                let start = (table.base + (home + probe) & (table.buckets - 1)) * Self.bucketSize
                for slot in 0..<Self.slots {
                    let value = bytes.withUnsafeBytes { $0.load(fromByteOffset: start + Self.valueOffset + slot * 4, as: UInt32.self) }
                    if value == 0 { break probing }
                    let w0 = bytes.withUnsafeBytes { $0.load(fromByteOffset: start + slot * 16, as: UInt64.self) }
                    let w1 = bytes.withUnsafeBytes { $0.load(fromByteOffset: start + slot * 16 + 8, as: UInt64.self) }
                    if w0 == key.w0, w1 == key.w1 { return value }
                }
            }
        }
        return 0
    }
}

/// A 16-byte address (IPv4 as ::ffff:a.b.c.d) as the programs load it: bytes
/// 0-7 and 8-15 as two little-endian words.
struct AddressWords: Equatable {
    var w0: UInt64
    var w1: UInt64

    init(w0: UInt64, w1: UInt64) {
        self.w0 = w0
        self.w1 = w1
    }

    init(_ address: IPAddress) {
        let value = address.mappedV6
        w0 = UInt64(truncatingIfNeeded: value >> 64).byteSwapped
        w1 = UInt64(truncatingIfNeeded: value).byteSwapped
    }

    static func netmask(length: Int) -> AddressWords {
        let mask: UInt128 = length == 0 ? 0 : ~0 << (128 - length)
        return AddressWords(w0: UInt64(truncatingIfNeeded: mask >> 64).byteSwapped, w1: UInt64(truncatingIfNeeded: mask).byteSwapped)
    }

    /// fabricguard_abi.h's hash.
    var hash: UInt64 { w0 &* FG_HASH_K0 &+ w1 &* FG_HASH_K1 }

    /// The key's home bucket in a table with this shift.
    func home(shift: Int) -> Int {
        Int(truncatingIfNeeded: UInt32(truncatingIfNeeded: hash >> UInt64(shift)))
    }
}

extension PrefixEntry {
    /// The entry as a bucket slot holds it (fg_prefix_bucket.value).
    var bucketValue: UInt32 {
        UInt32(FG_PREFIX_USED) | fabricID & UInt32(FG_PREFIX_FABRIC_MASK) | (exempt ? UInt32(FG_PREFIX_EXEMPT) : 0)
    }
}

extension LocalEntry {
    /// The address as the local table's slot holds it: its fg_locals index and fabric.
    func bucketValue(index: Int) -> UInt32 {
        UInt32(FG_PREFIX_USED) | UInt32(index) << FG_LOCAL_INDEX_SHIFT | fabricID & FG_LOCAL_FABRIC_MASK
    }
}
