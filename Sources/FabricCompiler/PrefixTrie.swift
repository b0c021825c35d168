import CPrefetch
import FabricPolicy

/// One node of a `PrefixTrie`. It lives at file scope rather than inside the trie so that it is
/// generic over the key only: nested, it would also be generic over `Value` and be specialized
/// once per value type for no benefit.
///
/// Children are indices into the trie's node array (-1 = none) instead of references, so the
/// whole trie is two flat arrays: no per-node allocation, no reference counting while walking.
@usableFromInline
struct PrefixTrieNode<Key: FixedWidthInteger & UnsignedInteger & Sendable>: Sendable {
    /// The prefix bits; bits beyond `length` are always zero.
    @usableFromInline var key: Key
    /// Child whose bit at position `length` is 0.
    @usableFromInline var left: Int32
    /// Child whose bit at position `length` is 1.
    @usableFromInline var right: Int32
    /// 16 bits, not Int, so an IPv4 node packs into 16 bytes: four per cache line, none straddling two.
    @usableFromInline var length: UInt16
    /// False for an intermediate node created by a split. The value itself sits in a parallel
    /// array, off the lookup path, so it does not widen the node.
    @usableFromInline var hasValue: Bool

    @inlinable
    init(key: Key, length: Int, hasValue: Bool) {
        self.key = key
        self.left = -1
        self.right = -1
        self.length = UInt16(truncatingIfNeeded: length)
        self.hasValue = hasValue
    }
}

/// One first-level index slot: the deepest valued node found above the index depth, and the
/// node where the lookup continues (-1 for either when there is none).
@usableFromInline
struct PrefixTrieIndexSlot: Sendable {
    @usableFromInline var best: Int32
    @usableFromInline var start: Int32

    @inlinable
    init(best: Int32, start: Int32) {
        self.best = best
        self.start = start
    }
}

/// A longest-prefix-match table over `Key.bitWidth`-bit keys: a path-compressed binary
/// (Patricia) trie laid out like the Linux kernel's `lpm_trie.c`.
///
/// Every node tests a whole run of bits with one masked compare, and only the bit right after
/// its prefix picks the child. Lengths strictly grow down a path, so a lookup visits at most
/// `bitWidth + 1` nodes; in practice about log2 of the node count (17 for 100k random IPv4
/// prefixes). Nodes that hold no value appear only where two stored prefixes diverge, which
/// keeps the node count below twice the number of prefixes.
///
/// There is no removal: tables are rebuilt from the policy, never edited in place.
public struct PrefixTrie<Key: FixedWidthInteger & UnsignedInteger & Sendable, Value: Sendable>: Sendable {
    @usableFromInline typealias Node = PrefixTrieNode<Key>

    @usableFromInline var nodes: [Node] = []
    /// Parallel to `nodes`: the value of each node, nil exactly where `hasValue` is false.
    @usableFromInline var values: [Value?] = []
    /// -1 while the trie is empty. It moves when a split or a shorter prefix lands above it.
    @usableFromInline var root: Int32 = -1
    @usableFromInline var storedCount = 0
    /// Optional first-level index over the top `indexBits` bits (see `buildIndex(bits:)`);
    /// empty when not built. Any insert drops it.
    @usableFromInline var index: [PrefixTrieIndexSlot] = []
    @usableFromInline var indexBits = 0
    /// The index covers bits indexSkip ..< indexSkip + indexBits: the root's own
    /// prefix (`indexBase`, indexSkip bits long) is shared by every stored key, so
    /// those bits decide nothing (all of fd00::/8 in a typical IPv6 policy).
    @usableFromInline var indexSkip = 0
    @usableFromInline var indexBase: Key = 0
    /// The index field in place, and the shift that brings it down (a Key, so
    /// the shift is Key by Key: see `masks`).
    @usableFromInline var indexField: Key = 0
    @usableFromInline var indexShift: Key = 0
    /// masks[n] is the /n network mask; bits[n] has only bit n set (bits[bitWidth] = 0).
    /// Tables, because a shift of a UInt128 by an Int goes through a generic
    /// conversion that costs more than the rest of a lookup step.
    @usableFromInline let masks: [Key]
    @usableFromInline let bits: [Key]

    public init() {
        masks = (0...Key.bitWidth).map { Self.mask($0) }
        bits = (0..<Key.bitWidth).map { Key(1) &<< (Key.bitWidth - 1 - $0) } + [0]
    }

    /// The number of stored prefixes; intermediate nodes are not counted.
    public var count: Int { storedCount }

    /// Inserts `value` for `key/length`, replacing any value already stored for that prefix.
    ///
    /// Host bits must already be zero: masking them here would hide the caller's bug.
    @inlinable
    public mutating func insert(_ key: Key, length: Int, value: Value) {
        precondition(length >= 0 && length <= Key.bitWidth, "prefix length \(length) outside 0...\(Key.bitWidth)")
        precondition(key & ~masks[length] == 0, "host bits set beyond /\(length)")
        if indexBits != 0 {
            index = []
            indexBits = 0
        }

        // The slot to rewrite is `root` when `parent` is -1, else `parent`'s child on `side`.
        var parent: Int32 = -1
        var side = 0
        var index = root
        var matched = 0
        while index >= 0 {
            let node = nodes[Int(index)]
            let nodeLength = Int(node.length)
            matched = Swift.min(nodeLength, length, (node.key ^ key).leadingZeroBitCount)
            // Descend only while the node is a strict ancestor of the new prefix; a /bitWidth
            // node never gets here with matched == nodeLength unless length == nodeLength.
            if matched != nodeLength || nodeLength == length { break }
            parent = index
            side = key & bits[nodeLength] == 0 ? 0 : 1
            index = side == 0 ? node.left : node.right
        }

        guard index >= 0 else {
            setSlot(parent: parent, side: side, to: appendNode(key: key, length: length, value: value))
            return
        }

        let existing = nodes[Int(index)]
        if matched == Int(existing.length) {
            // The loop stopped on the very same prefix: replace, or fill an intermediate node.
            if !existing.hasValue {
                nodes[Int(index)].hasValue = true
                storedCount += 1
            }
            values[Int(index)] = value
            return
        }

        if matched == length {
            // The new prefix contains the existing subtree, so it slots in above it.
            let node = appendNode(key: key, length: length, value: value)
            setChild(of: node, side: existing.key & bits[length] == 0 ? 0 : 1, to: index)
            setSlot(parent: parent, side: side, to: node)
            return
        }

        // The two prefixes first differ at bit `matched`, which both have: a valueless node
        // covering their common part takes the slot, with each below it on its own side.
        let leaf = appendNode(key: key, length: length, value: value)
        let junction = appendNode(key: key & masks[matched], length: matched, value: nil)
        let leafSide = key & bits[matched] == 0 ? 0 : 1
        setChild(of: junction, side: leafSide, to: leaf)
        setChild(of: junction, side: 1 - leafSide, to: index)
        setSlot(parent: parent, side: side, to: junction)
    }

    /// The longest stored prefix that contains `address`.
    @inlinable
    public func longestMatch(_ address: Key) -> (length: Int, value: Value)? {
        let found = longestMatchNode(address)
        guard found >= 0, let value = values[Int(found)] else { return nil }
        return (Int(nodes[Int(found)].length), value)
    }

    /// The value stored for exactly `key/length`; nil when absent or when `key` has host bits set.
    @inlinable
    public func exactMatch(_ key: Key, length: Int) -> Value? {
        guard length >= 0, length <= Key.bitWidth else { return nil }
        var index = root
        while index >= 0 {
            let node = nodes[Int(index)]
            let nodeLength = Int(node.length)
            if nodeLength > length || (node.key ^ key) & masks[nodeLength] != 0 { return nil }
            if nodeLength == length {
                return node.key == key ? values[Int(index)] : nil
            }
            index = key & bits[nodeLength] == 0 ? node.left : node.right
        }
        return nil
    }

    /// All stored prefixes in ascending (key, length) order.
    ///
    /// A pre-order walk (node, 0-side, 1-side) yields exactly that order: a node's key is a
    /// prefix of, hence numerically at most, every key below it and is shorter on ties, and
    /// every key on the 0 side is below every key on the 1 side.
    public func entries() -> [(key: Key, length: Int, value: Value)] {
        var result: [(key: Key, length: Int, value: Value)] = []
        result.reserveCapacity(storedCount)
        var pending: [Int32] = root >= 0 ? [root] : []
        while let index = pending.popLast() {
            let node = nodes[Int(index)]
            if let value = values[Int(index)] {
                result.append((node.key, Int(node.length), value))
            }
            if node.right >= 0 { pending.append(node.right) }
            if node.left >= 0 { pending.append(node.left) }
        }
        return result
    }

    // MARK: - Internals shared with inlined callers

    /// The datapath loop: index of the deepest valued node containing `address`, or -1.
    ///
    /// Unsafe buffer access drops the per-node bounds check; indices come only from this
    /// trie's own links, which `insert` keeps in range.
    @inlinable
    func longestMatchNode(_ address: Key) -> Int32 {
        var start = root
        var best: Int32 = -1
        if indexBits != 0 {
            // Every node lies under the root's prefix: an address outside it matches nothing.
            if (address ^ indexBase) & masks[indexSkip] != 0 { return -1 }
            let slot = index[Int(truncatingIfNeeded: (address & indexField) &>> indexShift)]
            start = slot.start
            best = slot.best
        }
        return nodes.withUnsafeBufferPointer { nodes in
            masks.withUnsafeBufferPointer { masks in
                bits.withUnsafeBufferPointer { bits in
                    var index = start
                    var best = best
                    while index >= 0 {
                        let node = nodes[Int(truncatingIfNeeded: index)]
                        let length = Int(truncatingIfNeeded: node.length)
                        if (node.key ^ address) & masks[length] != 0 { break }
                        best = node.hasValue ? index : best
                        // A /bitWidth node reads bits[bitWidth] = 0, its (absent) left child:
                        // the loop ends without an extra length test.
                        index = address & bits[length] == 0 ? node.left : node.right
                    }
                    return best
                }
            }
        }
    }

    // Reading ahead: a caller with a batch of addresses to look up walks their paths
    // level by level, prefetching each level's lines for the whole batch before it
    // reads any of them, so that the batch's cache misses overlap instead of following
    // one another. Lookups themselves never call these; nothing is decided here.

    /// Level 0: prefetches the first-level index slot of `address` (nothing without an index).
    @inlinable
    public func prefetchStart(_ address: Key) {
        guard indexBits != 0 else { return }
        let slot = Int(truncatingIfNeeded: (address & indexField) &>> indexShift)
        index.withUnsafeBufferPointer { fg_prefetch($0.baseAddress! + slot) }
    }

    /// The node a lookup of `address` starts from (-1: none), prefetched with its value.
    @inlinable
    public func prefetchNode(startingAt address: Key) -> Int32 {
        var start = root
        if indexBits != 0 {
            if (address ^ indexBase) & masks[indexSkip] != 0 { return -1 }
            start = index[Int(truncatingIfNeeded: (address & indexField) &>> indexShift)].start
        }
        prefetch(start)
        return start
    }

    /// The node after `node` on the lookup of `address` (-1: the lookup ends at `node`),
    /// prefetched with its value. `node` should have been prefetched a level earlier.
    @inlinable
    public func prefetchNode(after node: Int32, for address: Key) -> Int32 {
        guard node >= 0 else { return -1 }
        let read = nodes[Int(node)]
        let length = Int(truncatingIfNeeded: read.length)
        if (read.key ^ address) & masks[length] != 0 { return -1 }
        let next = address & bits[length] == 0 ? read.left : read.right
        prefetch(next)
        return next
    }

    @inlinable
    func prefetch(_ node: Int32) {
        guard node >= 0 else { return }
        nodes.withUnsafeBufferPointer { fg_prefetch($0.baseAddress! + Int(node)) }
        values.withUnsafeBufferPointer { fg_prefetch($0.baseAddress! + Int(node)) }
    }

    /// Network mask for a prefix length.
    @inlinable @inline(__always)
    static func mask(_ length: Int) -> Key {
        // A masking shift by bitWidth would shift by 0, so /0 needs its own case.
        length == 0 ? 0 : ~Key.zero &<< (Key.bitWidth &- length)
    }


    /// Builds a direct-indexed first level over the `bits` bits that follow the prefix
    /// every stored key shares (the root's), so a lookup starts deep in the trie instead of
    /// walking the ~log2(n) nodes above it: for 100k prefixes, a 16-bit index (2^16 slots
    /// of 8 bytes) cuts a lookup from ~17 nodes to 1-2, for IPv4 and for IPv6 inside
    /// fd00::/8 alike. Fewer bits when the keys leave fewer below their shared prefix.
    @inlinable  // specialized where it is used: generic integer code is many times slower
    public mutating func buildIndex(bits wanted: Int) {
        precondition(wanted > 0 && wanted <= 24, "index of \(wanted) bits")
        guard root >= 0 else { return }
        let skip = Int(nodes[Int(root)].length)
        let bits = min(wanted, Key.bitWidth - 1 - skip)
        guard bits > 0 else { return }
        let base = nodes[Int(root)].key
        let depth = skip + bits
        var slots = [PrefixTrieIndexSlot](repeating: PrefixTrieIndexSlot(best: -1, start: -1), count: 1 << bits)
        // Slot keys step by the index field's lowest bit: no Int-to-Key conversion per slot.
        var key = base
        for slot in 0..<slots.count {
            // Walk as a lookup would for any address under the root's prefix whose next bits
            // are `slot`, as far as those bits alone decide; the lookup resumes from the node
            // where they no longer do.
            var node = root
            var best: Int32 = -1
            while node >= 0 {
                let current = nodes[Int(node)]
                let length = Int(current.length)
                if length > depth { break }
                if (current.key ^ key) & masks[length] != 0 {
                    node = -1
                    break
                }
                if current.hasValue { best = node }
                // The child of a /depth node depends on bit `depth`: resume at the node itself
                // (the lookup re-checks it, harmlessly).
                if length == depth { break }
                node = key & self.bits[length] == 0 ? current.left : current.right
            }
            slots[slot] = PrefixTrieIndexSlot(best: best, start: node)
            key &+= self.bits[depth - 1]
        }
        index = slots
        indexBits = bits
        indexSkip = skip
        indexBase = base
        indexField = masks[depth] & ~masks[skip]
        indexShift = Key(truncatingIfNeeded: Key.bitWidth - depth)
    }

    @inlinable
    mutating func appendNode(key: Key, length: Int, value: Value?) -> Int32 {
        // Each insert adds at most two nodes; Int32 links keep a node at 16 bytes for IPv4.
        precondition(nodes.count < Int(Int32.max) - 1, "PrefixTrie is full")
        nodes.append(Node(key: key, length: length, hasValue: value != nil))
        values.append(value)
        if value != nil { storedCount += 1 }
        return Int32(nodes.count - 1)
    }

    @inlinable
    mutating func setChild(of parent: Int32, side: Int, to child: Int32) {
        if side == 0 {
            nodes[Int(parent)].left = child
        } else {
            nodes[Int(parent)].right = child
        }
    }

    @inlinable
    mutating func setSlot(parent: Int32, side: Int, to child: Int32) {
        if parent < 0 {
            root = child
        } else {
            setChild(of: parent, side: side, to: child)
        }
    }
}

/// IPv4 and IPv6 prefixes in one table, each family in its own trie so neither pays for the
/// other's key width.
public struct PrefixTable<Value: Sendable>: Sendable {
    @usableFromInline var v4 = PrefixTrie<UInt32, Value>()
    @usableFromInline var v6 = PrefixTrie<UInt128, Value>()

    public init() {}

    public var count: Int { v4.count + v6.count }

    /// Inserts or replaces the value for `prefix`.
    @inlinable
    public mutating func insert(_ prefix: IPPrefix, value: Value) {
        switch prefix.address {
        case .v4(let address): v4.insert(address, length: prefix.length, value: value)
        case .v6(let address): v6.insert(address, length: prefix.length, value: value)
        }
    }

    /// The longest stored prefix of the address's family that contains it.
    @inlinable
    public func longestMatch(_ address: IPAddress) -> (prefix: IPPrefix, value: Value)? {
        switch address {
        case .v4(let bits):
            guard let match = v4.longestMatch(bits) else { return nil }
            return (IPPrefix(covering: address, length: match.length), match.value)
        case .v6(let bits):
            guard let match = v6.longestMatch(bits) else { return nil }
            return (IPPrefix(covering: address, length: match.length), match.value)
        }
    }

    /// Datapath entry point: skips building an `IPPrefix` the caller does not need.
    @inlinable
    public func longestMatchV4(_ address: UInt32) -> Value? {
        let found = v4.longestMatchNode(address)
        return found >= 0 ? v4.values[Int(found)] : nil
    }

    /// Datapath entry point: skips building an `IPPrefix` the caller does not need.
    @inlinable
    public func longestMatchV6(_ address: UInt128) -> Value? {
        let found = v6.longestMatchNode(address)
        return found >= 0 ? v6.values[Int(found)] : nil
    }

    /// The value stored for exactly `prefix`.
    @inlinable
    public func value(for prefix: IPPrefix) -> Value? {
        switch prefix.address {
        case .v4(let address): v4.exactMatch(address, length: prefix.length)
        case .v6(let address): v6.exactMatch(address, length: prefix.length)
        }
    }

    /// All entries, IPv4 first, then by address, then by length: the same order as `IPPrefix`'s `<`.
    public func entries() -> [(prefix: IPPrefix, value: Value)] {
        var result: [(prefix: IPPrefix, value: Value)] = []
        result.reserveCapacity(count)
        for entry in v4.entries() {
            result.append((IPPrefix(covering: .v4(entry.key), length: entry.length), entry.value))
        }
        for entry in v6.entries() {
            result.append((IPPrefix(covering: .v6(entry.key), length: entry.length), entry.value))
        }
        return result
    }
}
