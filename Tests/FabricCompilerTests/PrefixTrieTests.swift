import FabricCompiler
import FabricPolicy
import Testing

/// Tiny deterministic generator so every property-test failure replays from its seed.
struct SplitMix64: RandomNumberGenerator {
    var state: UInt64

    init(seed: UInt64) { state = seed }

    mutating func next() -> UInt64 {
        state &+= 0x9e37_79b9_7f4a_7c15
        var z = state
        z = (z ^ (z >> 30)) &* 0xbf58_476d_1ce4_e5b9
        z = (z ^ (z >> 27)) &* 0x94d0_49bb_1331_11eb
        return z ^ (z >> 31)
    }
}

private func v4(_ text: String) -> UInt32 {
    guard case .v4(let bits) = IPAddress(text) else { fatalError("bad IPv4 literal \(text)") }
    return bits
}

private func v6(_ text: String) -> UInt128 {
    guard case .v6(let bits) = IPAddress(text) else { fatalError("bad IPv6 literal \(text)") }
    return bits
}

private func prefix(_ text: String) -> IPPrefix {
    do {
        return try IPPrefix(parsing: text)
    } catch {
        fatalError("bad prefix literal \(text): \(error)")
    }
}

private func mask<Key: FixedWidthInteger & UnsignedInteger>(_ length: Int, as _: Key.Type = Key.self) -> Key {
    length == 0 ? 0 : ~Key.zero << (Key.bitWidth - length)
}

@Suite("PrefixTrie hand cases")
struct PrefixTrieHandTests {
    @Test("empty trie matches nothing")
    func empty() {
        let trie = PrefixTrie<UInt32, String>()
        #expect(trie.count == 0)
        #expect(trie.longestMatch(0) == nil)
        #expect(trie.longestMatch(.max) == nil)
        #expect(trie.exactMatch(0, length: 0) == nil)
        #expect(trie.entries().isEmpty)
    }

    @Test("default route catches everything, more specific routes win")
    func defaultRoute() {
        var trie = PrefixTrie<UInt32, String>()
        trie.insert(0, length: 0, value: "default")
        for address in [UInt32.zero, 1, 0x8000_0000, .max, v4("10.1.2.3")] {
            #expect(trie.longestMatch(address)?.length == 0)
            #expect(trie.longestMatch(address)?.value == "default")
        }
        trie.insert(v4("10.0.0.0"), length: 8, value: "ten")
        #expect(trie.longestMatch(v4("10.9.9.9"))?.value == "ten")
        #expect(trie.longestMatch(v4("11.0.0.0"))?.value == "default")
        #expect(trie.exactMatch(0, length: 0) == "default")
        #expect(trie.count == 2)

        // The default route inserted after a more specific one must land above it.
        var late = PrefixTrie<UInt128, String>()
        late.insert(v6("fd00::"), length: 8, value: "ula")
        late.insert(0, length: 0, value: "default")
        #expect(late.longestMatch(v6("fd12::1"))?.value == "ula")
        #expect(late.longestMatch(v6("2001:db8::1"))?.value == "default")
        #expect(late.longestMatch(.max)?.length == 0)
    }

    @Test("/32 and /128 host routes")
    func hostRoutes() {
        var four = PrefixTrie<UInt32, Int>()
        four.insert(v4("192.0.2.7"), length: 32, value: 7)
        four.insert(v4("192.0.2.0"), length: 24, value: 24)
        four.insert(v4("192.0.2.6"), length: 32, value: 6)
        #expect(four.longestMatch(v4("192.0.2.7"))?.value == 7)
        #expect(four.longestMatch(v4("192.0.2.7"))?.length == 32)
        #expect(four.longestMatch(v4("192.0.2.6"))?.value == 6)
        #expect(four.longestMatch(v4("192.0.2.8"))?.value == 24)
        #expect(four.longestMatch(v4("192.0.3.7")) == nil)
        #expect(four.exactMatch(v4("192.0.2.7"), length: 32) == 7)
        #expect(four.exactMatch(v4("192.0.2.7"), length: 31) == nil)

        var six = PrefixTrie<UInt128, Int>()
        six.insert(v6("2001:db8::1"), length: 128, value: 1)
        six.insert(v6("2001:db8::"), length: 127, value: 127)
        six.insert(.max, length: 128, value: -1)
        #expect(six.longestMatch(v6("2001:db8::1"))?.value == 1)
        #expect(six.longestMatch(v6("2001:db8::"))?.value == 127)
        #expect(six.longestMatch(v6("2001:db8::2")) == nil)
        #expect(six.longestMatch(.max)?.value == -1)
        #expect(six.longestMatch(.max - 1) == nil)
    }

    @Test("nested prefixes pick the longest")
    func nested() {
        var trie = PrefixTrie<UInt32, String>()
        trie.insert(v4("10.1.2.0"), length: 24, value: "/24")
        trie.insert(v4("10.0.0.0"), length: 8, value: "/8")
        trie.insert(v4("10.1.0.0"), length: 16, value: "/16")
        #expect(trie.longestMatch(v4("10.1.2.200"))?.value == "/24")
        #expect(trie.longestMatch(v4("10.1.3.1"))?.value == "/16")
        #expect(trie.longestMatch(v4("10.2.0.1"))?.value == "/8")
        #expect(trie.longestMatch(v4("9.255.255.255")) == nil)
        #expect(trie.entries().map(\.length) == [8, 16, 24])
    }

    @Test("inserting an existing prefix replaces its value")
    func replace() {
        var trie = PrefixTrie<UInt32, String>()
        trie.insert(v4("10.0.0.0"), length: 8, value: "old")
        trie.insert(v4("10.0.0.0"), length: 16, value: "other")
        trie.insert(v4("10.0.0.0"), length: 8, value: "new")
        #expect(trie.count == 2)
        #expect(trie.exactMatch(v4("10.0.0.0"), length: 8) == "new")
        #expect(trie.longestMatch(v4("10.1.0.0"))?.value == "new")
        #expect(trie.entries().map(\.value) == ["new", "other"])
    }

    @Test("a new prefix above an existing one becomes its parent")
    func parentSplit() {
        var trie = PrefixTrie<UInt32, String>()
        trie.insert(v4("10.1.0.0"), length: 16, value: "child")
        trie.insert(v4("10.0.0.0"), length: 8, value: "parent")
        // A second child on the other side of the new parent.
        trie.insert(v4("10.128.0.0"), length: 9, value: "upper")
        #expect(trie.longestMatch(v4("10.1.5.5"))?.value == "child")
        #expect(trie.longestMatch(v4("10.2.0.0"))?.value == "parent")
        #expect(trie.longestMatch(v4("10.200.0.0"))?.value == "upper")
        #expect(trie.entries().map(\.value) == ["parent", "child", "upper"])
    }

    @Test("diverging siblings get a valueless intermediate node, which a later insert can fill")
    func siblingSplit() {
        var trie = PrefixTrie<UInt32, String>()
        trie.insert(v4("10.1.0.0"), length: 16, value: "a")
        trie.insert(v4("10.2.0.0"), length: 16, value: "b")
        // The two share 10.0.0.0/14; nothing is stored there yet.
        #expect(trie.count == 2)
        #expect(trie.longestMatch(v4("10.3.0.0")) == nil)
        #expect(trie.longestMatch(v4("10.0.0.0")) == nil)
        #expect(trie.exactMatch(v4("10.0.0.0"), length: 14) == nil)
        #expect(trie.entries().map(\.value) == ["a", "b"])

        trie.insert(v4("10.0.0.0"), length: 14, value: "junction")
        #expect(trie.count == 3)
        #expect(trie.exactMatch(v4("10.0.0.0"), length: 14) == "junction")
        #expect(trie.longestMatch(v4("10.3.0.0"))?.value == "junction")
        #expect(trie.longestMatch(v4("10.1.0.0"))?.value == "a")
        #expect(trie.longestMatch(v4("10.4.0.0")) == nil)
        #expect(trie.entries().map(\.value) == ["junction", "a", "b"])

        // Diverging at the very first bit: the intermediate node is /0 but must not match.
        var halves = PrefixTrie<UInt32, String>()
        halves.insert(0, length: 1, value: "low")
        halves.insert(0x8000_0000, length: 1, value: "high")
        #expect(halves.longestMatch(0x7fff_ffff)?.value == "low")
        #expect(halves.longestMatch(0x8000_0000)?.value == "high")
        #expect(halves.exactMatch(0, length: 0) == nil)
        halves.insert(0, length: 0, value: "default")
        #expect(halves.exactMatch(0, length: 0) == "default")
        #expect(halves.entries().map(\.value) == ["default", "low", "high"])
    }

    @Test("exactMatch rejects a key with host bits set instead of masking it")
    func exactMatchHostBits() {
        var trie = PrefixTrie<UInt32, Int>()
        trie.insert(v4("10.0.0.0"), length: 8, value: 1)
        #expect(trie.exactMatch(v4("10.0.0.1"), length: 8) == nil)
        #expect(trie.exactMatch(v4("10.0.0.0"), length: 33) == nil)
        #expect(trie.exactMatch(v4("10.0.0.0"), length: -1) == nil)
    }
}

@Suite("PrefixTable")
struct PrefixTableTests {
    @Test("families are kept apart and reported as IPPrefix")
    func dualStack() {
        var table = PrefixTable<String>()
        table.insert(prefix("0.0.0.0/0"), value: "v4 default")
        table.insert(prefix("10.0.0.0/8"), value: "ten")
        table.insert(prefix("::/0"), value: "v6 default")
        table.insert(prefix("::ffff:0:0/96"), value: "mapped")
        table.insert(prefix("fd00::/8"), value: "ula")
        table.insert(prefix("10.0.0.0/8"), value: "TEN")
        #expect(table.count == 5)

        let hit = table.longestMatch(IPAddress("10.1.2.3")!)
        #expect(hit?.prefix == prefix("10.0.0.0/8"))
        #expect(hit?.value == "TEN")
        #expect(table.longestMatch(IPAddress("192.0.2.1")!)?.prefix == prefix("0.0.0.0/0"))
        // An IPv4-mapped address is IPv6 here: it must not fall into the IPv4 trie.
        #expect(table.longestMatch(IPAddress("::ffff:10.1.2.3")!)?.value == "mapped")
        #expect(table.longestMatch(IPAddress("fd00::1")!)?.prefix == prefix("fd00::/8"))

        #expect(table.longestMatchV4(v4("10.9.9.9")) == "TEN")
        #expect(table.longestMatchV4(v4("11.0.0.0")) == "v4 default")
        #expect(table.longestMatchV6(v6("fdff::")) == "ula")
        #expect(table.longestMatchV6(v6("2001:db8::")) == "v6 default")

        #expect(table.value(for: prefix("10.0.0.0/8")) == "TEN")
        #expect(table.value(for: prefix("10.0.0.0/9")) == nil)
        #expect(table.value(for: prefix("::/0")) == "v6 default")

        #expect(
            table.entries().map(\.prefix) == [
                "0.0.0.0/0", "10.0.0.0/8", "::/0", "::ffff:0:0/96", "fd00::/8",
            ].map(prefix))
    }

    @Test("an empty table answers nil for both families")
    func emptyTable() {
        let table = PrefixTable<Int>()
        #expect(table.count == 0)
        #expect(table.longestMatch(IPAddress("1.2.3.4")!) == nil)
        #expect(table.longestMatchV4(0) == nil)
        #expect(table.longestMatchV6(0) == nil)
        #expect(table.entries().isEmpty)
    }
}

// MARK: - Property tests against a brute-force oracle

private struct StoredPrefix<Key: FixedWidthInteger & UnsignedInteger>: Hashable, Comparable, CustomStringConvertible {
    var key: Key
    var length: Int

    static func < (lhs: Self, rhs: Self) -> Bool { (lhs.key, lhs.length) < (rhs.key, rhs.length) }

    func contains(_ address: Key) -> Bool { (address ^ key) & mask(length) == 0 }

    var description: String { "0x\(String(key, radix: 16))/\(length)" }
}

/// The inserted set with replacements applied, answering by exhaustive scan.
private struct Oracle<Key: FixedWidthInteger & UnsignedInteger> {
    var stored: [StoredPrefix<Key>: Int] = [:]

    func longestMatch(_ address: Key) -> (length: Int, value: Int)? {
        var best: (length: Int, value: Int)?
        for (prefix, value) in stored where prefix.contains(address) && prefix.length > (best?.length ?? -1) {
            best = (prefix.length, value)
        }
        return best
    }
}

private func randomKey<Key: FixedWidthInteger & UnsignedInteger>(_ rng: inout SplitMix64) -> Key {
    var key = Key.zero
    var filled = 0
    while filled < Key.bitWidth {
        key = key &<< 64 | Key(truncatingIfNeeded: rng.next())
        filled += 64
    }
    return key
}

/// A random prefix set where most prefixes hang below a few shared bases, so nesting,
/// parent inserts, sibling splits and exact replacements all happen often.
private func randomPrefixes<Key: FixedWidthInteger & UnsignedInteger>(
    _ rng: inout SplitMix64, count: Int, as _: Key.Type
) -> [StoredPrefix<Key>] {
    let width = Key.bitWidth
    let bases: [StoredPrefix<Key>] = (0..<4).map { _ in
        let length = Int.random(in: 0...(width / 2), using: &rng)
        return StoredPrefix(key: randomKey(&rng) & mask(length), length: length)
    }
    var result: [StoredPrefix<Key>] = []
    for _ in 0..<count {
        let roll = Int.random(in: 0..<100, using: &rng)
        if roll < 10, let earlier = result.randomElement(using: &rng) {
            result.append(earlier)
        } else if roll < 85 {
            let base = bases.randomElement(using: &rng)!
            // Short extensions are more likely than long ones, so prefixes cluster near their base.
            let span = width - base.length
            let extra = min(Int.random(in: 0...span, using: &rng), Int.random(in: 0...span, using: &rng))
            let length = base.length + extra
            let key = (base.key | randomKey(&rng) & ~mask(base.length, as: Key.self)) & mask(length)
            result.append(StoredPrefix(key: key, length: length))
        } else {
            let length = Int.random(in: 0...width, using: &rng)
            result.append(StoredPrefix(key: randomKey(&rng) & mask(length), length: length))
        }
    }
    return result
}

/// Addresses inside, at the edges of, and just outside the stored prefixes, plus random ones.
private func probeAddresses<Key: FixedWidthInteger & UnsignedInteger>(
    _ rng: inout SplitMix64, around prefixes: [StoredPrefix<Key>], count: Int
) -> [Key] {
    var result: [Key] = [0, .max]
    for _ in 0..<count {
        guard let prefix = prefixes.randomElement(using: &rng) else { break }
        let hostMask = ~mask(prefix.length, as: Key.self)
        switch Int.random(in: 0..<5, using: &rng) {
        case 0: result.append(prefix.key)
        case 1: result.append(prefix.key | hostMask)
        case 2: result.append(prefix.key | randomKey(&rng) & hostMask)
        case 3 where prefix.length > 0:
            // Flip the last prefix bit: the sibling just outside.
            result.append((prefix.key ^ (Key(1) << (Key.bitWidth - prefix.length))) | randomKey(&rng) & hostMask)
        default: result.append(randomKey(&rng))
        }
    }
    return result
}

/// Builds a trie and the oracle from one seed and returns every disagreement, described.
private func disagreements<Key: FixedWidthInteger & UnsignedInteger & Sendable>(
    seed: UInt64, prefixCount: Int, probeCount: Int, indexBits: Int = 0, nestedUnder common: Int = 0, as _: Key.Type
) -> [String] {
    var rng = SplitMix64(seed: seed)
    var prefixes = randomPrefixes(&rng, count: prefixCount, as: Key.self)
    if common > 0 {
        // Every prefix under one shared /common (as all of an IPv6 policy sits in fd00::/8).
        let base: Key = randomKey(&rng) & mask(common)
        prefixes = prefixes.map { prefix in
            let length = min(Key.bitWidth, common + prefix.length)
            return StoredPrefix(key: (base | prefix.key >> common) & mask(length), length: length)
        }
    }
    var trie = PrefixTrie<Key, Int>()
    var oracle = Oracle<Key>()
    var problems: [String] = []

    for (value, prefix) in prefixes.enumerated() {
        trie.insert(prefix.key, length: prefix.length, value: value)
        oracle.stored[prefix] = value
    }
    if trie.count != oracle.stored.count {
        problems.append("count \(trie.count), expected \(oracle.stored.count)")
    }
    if indexBits > 0 { trie.buildIndex(bits: indexBits) }

    for address in probeAddresses(&rng, around: prefixes, count: probeCount) {
        let got = trie.longestMatch(address)
        let want = oracle.longestMatch(address)
        if got?.length != want?.length || got?.value != want?.value {
            problems.append("longestMatch(0x\(String(address, radix: 16))) = \(String(describing: got)), expected \(String(describing: want))")
        }
    }

    let expectedEntries = oracle.stored.sorted { $0.key < $1.key }
    let entries = trie.entries()
    let gotEntries = entries.map { "\(StoredPrefix(key: $0.key, length: $0.length))=\($0.value)" }
    let wantEntries = expectedEntries.map { "\($0.key)=\($0.value)" }
    if gotEntries != wantEntries {
        problems.append("entries \(gotEntries.prefix(8))..., expected \(wantEntries.prefix(8))...")
    }

    for (prefix, value) in oracle.stored where trie.exactMatch(prefix.key, length: prefix.length) != value {
        problems.append("exactMatch(\(prefix)) = \(String(describing: trie.exactMatch(prefix.key, length: prefix.length))), expected \(value)")
    }
    // Absent prefixes, including the valueless intermediate nodes a split leaves behind.
    for _ in 0..<probeCount / 4 {
        let length = Int.random(in: 0...Key.bitWidth, using: &rng)
        let base = prefixes.randomElement(using: &rng)!
        let candidate = StoredPrefix(key: base.key & mask(length), length: length)
        let got = trie.exactMatch(candidate.key, length: candidate.length)
        if got != oracle.stored[candidate] {
            problems.append("exactMatch(\(candidate)) = \(String(describing: got)), expected \(String(describing: oracle.stored[candidate]))")
        }
    }
    return problems
}

@Suite("PrefixTrie matches a brute-force oracle")
struct PrefixTriePropertyTests {
    static let seeds: [UInt64] = [1, 2, 3, 42, 0xdead_beef, 0x0123_4567_89ab_cdef]

    @Test("IPv4-width keys", arguments: seeds)
    func ipv4(seed: UInt64) {
        let problems = disagreements(seed: seed, prefixCount: 250, probeCount: 600, as: UInt32.self)
        #expect(problems.count == 0, "seed \(seed): \(problems.count) disagreements, first: \(problems.prefix(5))")
    }

    @Test("IPv6-width keys", arguments: seeds)
    func ipv6(seed: UInt64) {
        let problems = disagreements(seed: seed, prefixCount: 250, probeCount: 600, as: UInt128.self)
        #expect(problems.count == 0, "seed \(seed): \(problems.count) disagreements, first: \(problems.prefix(5))")
    }

    @Test("IPv4-width keys through a first-level index", arguments: seeds)
    func ipv4Indexed(seed: UInt64) {
        for bits in [1, 8, 16] {
            let problems = disagreements(seed: seed, prefixCount: 250, probeCount: 600, indexBits: bits, as: UInt32.self)
            #expect(problems.count == 0, "seed \(seed), \(bits)-bit index: \(problems.count) disagreements, first: \(problems.prefix(5))")
        }
    }

    @Test("8-bit keys through every index width", arguments: seeds)
    func tinyIndexed(seed: UInt64) {
        for bits in 1...7 {
            let problems = disagreements(seed: seed, prefixCount: 60, probeCount: 300, indexBits: bits, as: UInt8.self)
            #expect(problems.count == 0, "seed \(seed), \(bits)-bit index: \(problems.count) disagreements, first: \(problems.prefix(5))")
        }
    }

    @Test("8-bit keys under a shared prefix, through every index width that fits", arguments: seeds)
    func tinyIndexedUnderCommonPrefix(seed: UInt64) {
        for common in 1...6 {
            for bits in 1...7 {
                let problems = disagreements(seed: seed, prefixCount: 60, probeCount: 300, indexBits: bits, nestedUnder: common, as: UInt8.self)
                #expect(problems.count == 0, "seed \(seed), under /\(common), \(bits)-bit index: \(problems.count) disagreements, first: \(problems.prefix(5))")
            }
        }
    }

    @Test("IPv6-width keys under fd00::/8 through a first-level index", arguments: seeds)
    func wideIndexedUnderCommonPrefix(seed: UInt64) {
        let problems = disagreements(seed: seed, prefixCount: 3000, probeCount: 3000, indexBits: 16, nestedUnder: 8, as: UInt128.self)
        #expect(problems.count == 0, "seed \(seed): \(problems.count) disagreements, first: \(problems.prefix(5))")
    }

    @Test("8-bit keys, dense enough that every split shape occurs", arguments: seeds)
    func tiny(seed: UInt64) {
        let problems = disagreements(seed: seed, prefixCount: 60, probeCount: 300, as: UInt8.self)
        #expect(problems.count == 0, "seed \(seed): \(problems.count) disagreements, first: \(problems.prefix(5))")
    }

    @Test("insertion order does not change the answers", arguments: seeds)
    func orderIndependence(seed: UInt64) {
        var rng = SplitMix64(seed: seed)
        // Distinct prefixes only: with duplicates the surviving value depends on order by design.
        let prefixes = Array(Set(randomPrefixes(&rng, count: 200, as: UInt32.self)))
        var forward = PrefixTrie<UInt32, Int>()
        var shuffled = PrefixTrie<UInt32, Int>()
        for prefix in prefixes { forward.insert(prefix.key, length: prefix.length, value: prefix.length) }
        for prefix in prefixes.shuffled(using: &rng) { shuffled.insert(prefix.key, length: prefix.length, value: prefix.length) }
        #expect(forward.entries().map(\.key) == shuffled.entries().map(\.key), "seed \(seed)")
        #expect(forward.entries().map(\.length) == shuffled.entries().map(\.length), "seed \(seed)")
        let mismatched = probeAddresses(&rng, around: prefixes, count: 300).filter {
            forward.longestMatch($0)?.length != shuffled.longestMatch($0)?.length
        }
        #expect(mismatched.count == 0, "seed \(seed): first differing addresses \(mismatched.prefix(5))")
    }

    @Test("PrefixTable agrees with the oracle for mixed families", arguments: seeds)
    func dualStackTable(seed: UInt64) {
        var rng = SplitMix64(seed: seed)
        let four = randomPrefixes(&rng, count: 120, as: UInt32.self)
        let six = randomPrefixes(&rng, count: 120, as: UInt128.self)
        var table = PrefixTable<Int>()
        var oracle4 = Oracle<UInt32>()
        var oracle6 = Oracle<UInt128>()
        // Interleave the families so one trie's growth cannot hide a bug in the other.
        for index in 0..<max(four.count, six.count) {
            if index < four.count {
                table.insert(IPPrefix(covering: .v4(four[index].key), length: four[index].length), value: index)
                oracle4.stored[four[index]] = index
            }
            if index < six.count {
                table.insert(IPPrefix(covering: .v6(six[index].key), length: six[index].length), value: -index)
                oracle6.stored[six[index]] = -index
            }
        }
        #expect(table.count == oracle4.stored.count + oracle6.stored.count, "seed \(seed)")

        var problems: [String] = []
        for address in probeAddresses(&rng, around: four, count: 300) {
            let want = oracle4.longestMatch(address)
            let got = table.longestMatch(.v4(address))
            let wantPrefix = want.map { IPPrefix(covering: .v4(address), length: $0.length) }
            if got?.prefix != wantPrefix || got?.value != want?.value || table.longestMatchV4(address) != want?.value {
                problems.append("\(IPAddress.v4(address)): \(String(describing: got)), expected \(String(describing: want))")
            }
        }
        for address in probeAddresses(&rng, around: six, count: 300) {
            let want = oracle6.longestMatch(address)
            let got = table.longestMatch(.v6(address))
            let wantPrefix = want.map { IPPrefix(covering: .v6(address), length: $0.length) }
            if got?.prefix != wantPrefix || got?.value != want?.value || table.longestMatchV6(address) != want?.value {
                problems.append("\(IPAddress.v6(address)): \(String(describing: got)), expected \(String(describing: want))")
            }
        }
        for (prefix, value) in oracle4.stored {
            let ip = IPPrefix(covering: .v4(prefix.key), length: prefix.length)
            if table.value(for: ip) != value { problems.append("value(for: \(ip)) != \(value)") }
        }
        for (prefix, value) in oracle6.stored {
            let ip = IPPrefix(covering: .v6(prefix.key), length: prefix.length)
            if table.value(for: ip) != value { problems.append("value(for: \(ip)) != \(value)") }
        }

        let expected: [(prefix: IPPrefix, value: Int)] =
            oracle4.stored.map { (IPPrefix(covering: .v4($0.key.key), length: $0.key.length), $0.value) }
            + oracle6.stored.map { (IPPrefix(covering: .v6($0.key.key), length: $0.key.length), $0.value) }
        let sortedExpected = expected.sorted { $0.prefix < $1.prefix }
        let entries = table.entries()
        if entries.map(\.prefix) != sortedExpected.map(\.prefix) || entries.map(\.value) != sortedExpected.map(\.value) {
            problems.append("entries out of order or wrong: first \(entries.prefix(4).map(\.prefix))")
        }
        #expect(problems.count == 0, "seed \(seed): \(problems.count) disagreements, first: \(problems.prefix(5))")
    }
}
