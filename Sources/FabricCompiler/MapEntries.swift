import CFabricABI
import FabricPolicy

/// One key/value pair exactly as it is written into a BPF map.
public struct MapEntry: Sendable, Equatable {
    public var map: String
    public var key: [UInt8]
    public var value: [UInt8]
}

extension MapPlan {
    /// Every policy map entry for one bank, built from the ABI header's own
    /// structs so the bytes are the ones the programs read. Ordered by map,
    /// then by key as the plan orders them. Prefix entries (`fg_prefix_v4/v6`)
    /// go into that bank's own trie, not into the array of maps itself.
    public func entries(bank: UInt32) -> [MapEntry] {
        var entries: [MapEntry] = []
        entries.reserveCapacity(prefixes.count + interfaces.count + locals.count + fabrics.count)

        for entry in interfaces {
            var key = fg_interface_key()
            key.bank = bank
            key.ifindex = entry.ifindex
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
            entries.append(MapEntry(map: FG_MAP_INTERFACES, key: bytes(of: key), value: bytes(of: value)))
        }

        for entry in fabrics {
            let index = bank * UInt32(FG_MAX_FABRICS) + entry.id
            var value = fg_fabric_value()
            value.redirect_ifindex = entry.redirectIfindex
            entries.append(MapEntry(map: FG_MAP_FABRICS, key: bytes(of: index), value: bytes(of: value)))
        }

        for entry in prefixes {
            var value = fg_prefix_value()
            value.fabric_id = entry.fabricID
            value.flags = entry.exempt ? UInt32(FG_PREFIX_EXEMPT) : 0
            // No bank in the key: each bank has a trie of its own (an inner map of fg_prefix_v4/v6).
            let prefixlen = UInt32(entry.prefix.length)
            switch entry.prefix.address {
            case .v4:
                var key = fg_prefix_v4_key()
                key.prefixlen = prefixlen
                copy(entry.prefix.address.bytes, into: &key.addr)
                entries.append(MapEntry(map: FG_MAP_PREFIX_V4, key: bytes(of: key), value: bytes(of: value)))
            case .v6:
                var key = fg_prefix_v6_key()
                key.prefixlen = prefixlen
                copy(entry.prefix.address.bytes, into: &key.addr)
                entries.append(MapEntry(map: FG_MAP_PREFIX_V6, key: bytes(of: key), value: bytes(of: value)))
            }
        }

        for entry in locals {
            var key = fg_local_key()
            key.bank = bank
            copy(IPAddress.v6(entry.address.mappedV6).bytes, into: &key.addr)
            var value = fg_local_value()
            value.fabric_id = entry.fabricID
            value.redirect_ifindex = entry.redirectIfindex
            entries.append(MapEntry(map: FG_MAP_LOCALS, key: bytes(of: key), value: bytes(of: value)))
        }
        return entries
    }

    /// SHA-256 over the ABI version and every entry of bank 0: two plans with
    /// the same digest put the same bytes into the kernel.
    public var digest: [UInt8] {
        var hash = SHA256()
        hash.update(bytes(of: UInt32(FG_ABI_VERSION)))
        for entry in entries(bank: 0) {
            hash.update(Array(entry.map.utf8) + [0])
            hash.update(bytes(of: UInt32(entry.key.count)))
            hash.update(entry.key)
            hash.update(bytes(of: UInt32(entry.value.count)))
            hash.update(entry.value)
        }
        return hash.finalize()
    }

    /// `sha256:` and the digest in hex, as `check` and `status` print it.
    public var digestText: String { "sha256:" + SHA256.hex(digest) }
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
