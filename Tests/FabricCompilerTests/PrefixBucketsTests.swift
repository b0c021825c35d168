import CFabricABI
import FabricCompiler
import FabricFixtures
import FabricHost
import FabricPolicy
import Testing

/// The bucket layout the programs probe, checked against the reference trie:
/// every address finds the value of its longest prefix, or nothing.
@Suite struct PrefixBucketsTests {
    /// Nested prefixes of up to 24 lengths per family, owned by fabrics 1-3 or exempt.
    static func randomEntries(seed: UInt64, count: Int) -> [PrefixEntry] {
        var random = SplitMix64(seed: seed)
        let lengths4 = Array(8...31)  // 24 lengths
        let lengths6 = [16, 24, 32, 40, 44, 48, 52, 56, 60, 64, 72, 80, 96, 100, 104, 110, 112, 116, 120, 124, 126, 127, 128, 10]
        var table = PrefixTable<PrefixEntry>()
        // A few short roots, so that longer prefixes nest under them and under each other.
        let roots4: [UInt32] = [0x0a00_0000, 0xac10_0000, 0xc0a8_0000]
        let roots6: [UInt128] = [0xfd00 << 112, 0xfd00_0000_0001 << 80]
        for index in 0..<count {
            var value = UInt32(truncatingIfNeeded: random.next() % 4)
            let exempt = value == 0 || random.next() % 8 == 0
            if value == 0, !exempt { value = 1 }
            let prefix: IPPrefix
            if index % 2 == 0 {
                let length = lengths4[Int(random.next() % UInt64(lengths4.count))]
                let base = roots4[Int(random.next() % 3)] | UInt32(truncatingIfNeeded: random.next()) & 0x00ff_ffff
                prefix = IPPrefix(covering: .v4(base), length: length)
            } else {
                let length = lengths6[Int(random.next() % UInt64(lengths6.count))]
                let base = roots6[Int(random.next() % 2)] | UInt128(random.next()) << 16 | UInt128(random.next() & 0xffff)
                prefix = IPPrefix(covering: .v6(base), length: length)
            }
            table.insert(prefix, value: PrefixEntry(prefix: prefix, fabricID: value, exempt: exempt))
        }
        return table.entries().map(\.value)
    }

    /// Addresses inside the prefixes (at their first address, their last, a random one) and outside them.
    static func probes(_ entries: [PrefixEntry], seed: UInt64) -> [IPAddress] {
        var random = SplitMix64(seed: seed)
        var addresses: [IPAddress] = []
        for entry in entries {
            switch entry.prefix.address {
            case .v4(let base):
                let host: UInt32 = entry.prefix.length == 32 ? 0 : ~0 >> entry.prefix.length
                addresses += [.v4(base), .v4(base | host), .v4(base | UInt32(truncatingIfNeeded: random.next()) & host)]
            case .v6(let base):
                let host: UInt128 = entry.prefix.length == 128 ? 0 : ~0 >> entry.prefix.length
                addresses += [.v6(base), .v6(base | host), .v6(base | (UInt128(random.next()) << 64 | UInt128(random.next())) & host)]
            }
        }
        for _ in 0..<2000 {
            addresses.append(.v4(UInt32(truncatingIfNeeded: random.next())))
            addresses.append(.v6(UInt128(random.next()) << 64 | UInt128(random.next())))
        }
        return addresses
    }

    @Test(arguments: [1 as UInt64, 2, 3])
    func everyAddressFindsItsLongestPrefix(seed: UInt64) {
        let entries = Self.randomEntries(seed: seed, count: 3000)
        var reference = PrefixTable<PrefixEntry>()
        for entry in entries { reference.insert(entry.prefix, value: entry) }
        let buckets = PrefixBuckets(entries)
        #expect(buckets.v4.count == Set(entries.filter { $0.prefix.family == .ipv4 }.map(\.prefix.length)).count)
        #expect(buckets.v4.map(\.length) == buckets.v4.map(\.length).sorted(by: >), "longest length first")

        var mismatches: [String] = []
        for address in Self.probes(entries, seed: seed) {
            let expected = reference.longestMatch(address).map { entry -> UInt32 in
                UInt32(FG_PREFIX_USED) | entry.value.fabricID | (entry.value.exempt ? UInt32(FG_PREFIX_EXEMPT) : 0)
            } ?? 0
            let found = buckets.value(for: address)
            if found != expected, mismatches.count < 5 { mismatches.append("\(address): \(found) != \(expected)") }
        }
        #expect(mismatches.isEmpty, "\(mismatches)")
    }

    @Test func theLayoutIsAFunctionOfThePrefixes() {
        let entries = Self.randomEntries(seed: 7, count: 500)
        #expect(PrefixBuckets(entries) == PrefixBuckets(entries))
        #expect(PrefixBuckets(entries).abiTables(.ipv6).count == UInt32(PrefixBuckets(entries).v6.count))
    }

    @Test func localAddressesShareTheArrayButNotTheTables() {
        let entries = Self.randomEntries(seed: 5, count: 400)
        // Locals inside owned prefixes, of both families, at 4095 positions at most.
        var seen = Set<IPAddress>()
        let addresses = entries.prefix(300).map(\.prefix.address).filter { seen.insert($0).inserted }
        let locals = addresses.enumerated().map { index, address in
            LocalEntry(address: address, interface: "e\(index % 4)", fabricID: UInt32(index % 3 + 1), redirectIfindex: 7)
        }
        let buckets = PrefixBuckets(entries, locals: locals)
        #expect(buckets.tables[.locals]?.map(\.length) == [128])
        for (index, local) in locals.enumerated() {
            #expect(buckets.localValue(for: local.address) == 0x8000_0000 | UInt32(index) << 8 | local.fabricID)
            // The prefix tables still answer for the same address.
            #expect(buckets.value(for: local.address) != 0)
        }
        #expect(buckets.localValue(for: IPAddress("192.0.2.99")!) == 0)
        // Adding locals moves no prefix answer.
        let plain = PrefixBuckets(entries)
        for address in Self.probes(entries, seed: 5).prefix(2000) {
            #expect(plain.value(for: address) == buckets.value(for: address))
        }
    }

    @Test func tablesAreLargeEnoughAndPowersOfTwo() {
        let entries = Self.randomEntries(seed: 11, count: 4000)
        let buckets = PrefixBuckets(entries)
        for (family, tables) in [(IPAddress.Family.ipv4, buckets.v4), (.ipv6, buckets.v6)] {
            for table in tables {
                let keys = entries.count { $0.prefix.family == family && $0.prefix.length + (family == .ipv4 ? 96 : 0) == table.length }
                #expect(table.buckets.nonzeroBitCount == 1 && table.buckets >= 2)
                #expect(table.buckets * 3 >= keys, "/\(table.length): \(keys) keys in \(table.buckets) buckets")
            }
        }
        #expect(buckets.bytes.count == buckets.bucketCount * PrefixBuckets.bucketSize)
        #expect(PrefixBuckets([]).bytes.isEmpty)
    }

    @Test func tooManyLengthsIsAPolicyError() throws {
        let prefixes = (8...32).map { "10.0.0.0/\($0)" }.joined(separator: ", ")
        let policy = try PolicyLoader.parse(yaml: """
            version: 1
            fabrics:
              - { name: a, interfaces: [e0], prefixes: [\(prefixes)] }
            """, file: "lengths.yaml")
        let host = HostInventory(interfaces: [HostInterface(name: "e0", index: 2, up: true, running: true, mac: nil, addresses: [])])
        let error = #expect(throws: PolicyError.self) { try PolicyCompiler.compile(policy, host: host) }
        #expect(error?.description.contains("lengths.yaml") == true)
        #expect(error?.description.contains("25 distinct lengths, more than the 24 the datapath supports") == true, "\(String(describing: error))")
    }
}
