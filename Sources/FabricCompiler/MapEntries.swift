import CFabricABI
import FabricABI
import FabricPolicy

/// One key/value pair exactly as it is written into a BPF map.
public struct MapEntry: Sendable, Equatable {
    public var map: String
    public var key: [UInt8]
    public var value: [UInt8]
    /// fg_prefixes' entry only: `PrefixBuckets.blockSums` of `value`, so that a
    /// writer can skip the blocks a bank already holds.
    public var blockSums: [BucketBlocks.Sum] = []
}

extension MapPlan {
    /// Every policy map entry for one bank, built from the ABI header's own
    /// structs so the bytes are the ones the programs read: the small maps
    /// (`settingEntries`), then each table set's fg_prefix_tables entry and, as
    /// the one fg_prefixes entry, the bank's whole bucket array (its key is
    /// the bank; the writer puts the bytes in that bank's inner map).
    /// `buckets`, when given, is `PrefixBuckets(prefixes, locals: locals)`
    /// already laid out (for a second bank: the layout does not depend on it).
    public func entries(bank: UInt32, buckets: PrefixBuckets? = nil) -> [MapEntry] {
        let buckets = buckets ?? PrefixBuckets(prefixes, locals: locals)
        var entries = settingEntries(bank: bank)
        for set in PrefixBuckets.TableSet.allCases {
            let index = bank * UInt32(FG_TABLE_SETS.rawValue) + UInt32(set.rawValue)
            entries.append(MapEntry(map: FG_MAP_PREFIX_TABLES, key: bytes(of: index), value: bytes(of: buckets.abiTables(set))))
        }
        entries.append(MapEntry(map: FG_MAP_PREFIXES, key: bytes(of: bank), value: buckets.bytes, blockSums: buckets.blockSums))
        return entries
    }

    /// The entries of the small maps: interfaces, fabrics, local addresses and
    /// the policy-wide settings, ordered by map, then by key as the plan orders them.
    func settingEntries(bank: UInt32) -> [MapEntry] {
        var entries: [MapEntry] = []
        entries.reserveCapacity(interfaces.count + locals.count + fabrics.count + 1)

        for entry in interfaces {
            // The ifindex finds the settings in fg_interfaces, directly or through the far hash's slot.
            var value = fg_interface_value()
            value.fabric_id = entry.fabricID
            value.counter_slot = entry.counterSlot
            value.egress = entry.egress.abiValue
            value.ingress = entry.ingress.abiValue
            withUnsafeMutableBytes(of: &value.fast) { slots in
                for (index, fast) in entry.fastSources.prefix(ABILimits.fastSources).enumerated() {
                    var source = fg_fast_source()
                    copy(IPAddress.v6(fast.address.mappedV6).bytes, into: &source.addr)
                    source.reason = UInt32(fast.reason.rawValue)
                    source.used = 1
                    slots.storeBytes(of: source, toByteOffset: index * MemoryLayout<fg_fast_source>.stride, as: fg_fast_source.self)
                }
            }
            precondition(value.fabric_id != 0, "interface \(entry.ifindex): fabric 0 reads as not managed")
            let bankStart = bank * UInt32(FG_INTERFACE_ENTRIES)
            var index = bankStart + entry.ifindex
            if entry.ifindex >= UInt32(FG_DIRECT_IFINDEXES) {
                var key = fg_interface_key()
                key.bank = bank
                key.ifindex = entry.ifindex
                entries.append(MapEntry(map: FG_MAP_INTERFACES_FAR, key: bytes(of: key), value: bytes(of: entry.counterSlot)))
                index = bankStart + UInt32(FG_DIRECT_IFINDEXES) + entry.counterSlot
            }
            entries.append(MapEntry(map: FG_MAP_INTERFACES, key: bytes(of: index), value: bytes(of: value)))
        }

        for entry in fabrics {
            let index = bank * UInt32(FG_MAX_FABRICS) + entry.id
            var value = fg_fabric_value()
            value.redirect_ifindex = entry.redirectIfindex
            entries.append(MapEntry(map: FG_MAP_FABRICS, key: bytes(of: index), value: bytes(of: value)))
        }

        // Indexed by position: the local table's slots carry it (PrefixBuckets).
        for (position, entry) in locals.enumerated() {
            let key = bank * UInt32(FG_MAX_LOCAL_ADDRS) + UInt32(position)
            var value = fg_local_value()
            value.fabric_id = entry.fabricID
            value.redirect_ifindex = entry.redirectIfindex
            entries.append(MapEntry(map: FG_MAP_LOCALS, key: bytes(of: key), value: bytes(of: value)))
        }

        entries.append(MapEntry(map: FG_MAP_SETTINGS, key: bytes(of: bank), value: bytes(of: events.abiValue)))
        return entries
    }

    /// SHA-256 over the ABI version, every small-map entry of bank 0 and the
    /// merged prefix table (prefix and value word): two plans with the same
    /// digest put the same bytes into the kernel, since the bucket layout is a
    /// function of the prefix table alone (and hashing it would cost a pass
    /// over megabytes at a million prefixes).
    public var digest: [UInt8] {
        let hash = SHA256Stream()
        hash.update(bytes(of: UInt32(FG_ABI_VERSION)))
        for entry in settingEntries(bank: 0) {
            hash.update(Array(entry.map.utf8) + [0])
            hash.update(bytes(of: UInt32(entry.key.count)))
            hash.update(entry.key)
            hash.update(bytes(of: UInt32(entry.value.count)))
            hash.update(entry.value)
        }
        hash.update(Array(FG_MAP_PREFIXES.utf8) + [0])
        // The same bytes as an update per field, gathered in a small buffer:
        // three arrays per prefix cost more than the hashing at a million.
        var chunk: [UInt8] = []
        chunk.reserveCapacity(1 << 16)
        for entry in prefixes {
            chunk.append(UInt8(entry.prefix.length))
            chunk.append(entry.prefix.family == .ipv6 ? 6 : 4)
            switch entry.prefix.address {
            case .v4(let address): withUnsafeBytes(of: address.bigEndian) { chunk.append(contentsOf: $0) }
            case .v6(let address): withUnsafeBytes(of: address.bigEndian) { chunk.append(contentsOf: $0) }
            }
            withUnsafeBytes(of: entry.bucketValue) { chunk.append(contentsOf: $0) }
            if chunk.count > (1 << 16) - 64 {
                hash.update(chunk)
                chunk.removeAll(keepingCapacity: true)
            }
        }
        hash.update(chunk)
        return hash.finish()
    }

    /// The digest as `check` and `status` print it.
    public var digestText: String { Digest.text(digest) }
}

extension EventSettings {
    /// The bucket as the programs keep it (fg_settings): one event per
    /// interval, up to `burst` at once.
    var abiValue: fg_settings {
        var value = fg_settings()
        guard rate > 0 else { return value }
        value.event_interval_ns = 1_000_000_000 / UInt64(rate)
        value.event_tolerance_ns = UInt64(max(burst - 1, 0)) * value.event_interval_ns
        return value
    }
}

extension DirectionConfig {
    var abiValue: fg_dir_config {
        var value = fg_dir_config()
        value.mode = mode.code
        value.action = action.code
        value.unowned = unowned.code
        value.checks = checks.reduce(0) { $0 | $1.bit }
        return value
    }
}

private func bytes<T>(of value: T) -> [UInt8] {
    withUnsafeBytes(of: value) { Array($0) }
}

private func copy<Tuple>(_ source: [UInt8], into tuple: inout Tuple) {
    withUnsafeMutableBytes(of: &tuple) { buffer in
        precondition(buffer.count == source.count, "address width does not match the ABI field")
        buffer.copyBytes(from: source)
    }
}
