import CFabricABI

/// The key and value layout of every map named in the ABI header, taken from
/// the imported C structs themselves (never restated by hand).
public enum ABIMaps {
    public struct Spec: Sendable, Equatable {
        public var name: String
        public var keySize: Int
        public var valueSize: Int
    }

    public static let all: [Spec] = [
        // Arrays of maps: the bank as key, an inner trie (`tries`) as value.
        Spec(name: FG_MAP_PREFIX_V4, keySize: MemoryLayout<UInt32>.size, valueSize: MemoryLayout<UInt32>.size),
        Spec(name: FG_MAP_PREFIX_V6, keySize: MemoryLayout<UInt32>.size, valueSize: MemoryLayout<UInt32>.size),
        Spec(name: FG_MAP_INTERFACES, keySize: MemoryLayout<fg_interface_key>.size, valueSize: MemoryLayout<fg_interface_value>.size),
        Spec(name: FG_MAP_LOCALS, keySize: MemoryLayout<fg_local_key>.size, valueSize: MemoryLayout<fg_local_value>.size),
        Spec(name: FG_MAP_FABRICS, keySize: MemoryLayout<UInt32>.size, valueSize: MemoryLayout<fg_fabric_value>.size),
        Spec(name: FG_MAP_STATE, keySize: MemoryLayout<UInt32>.size, valueSize: MemoryLayout<fg_state>.size),
        Spec(name: FG_MAP_COUNTERS, keySize: MemoryLayout<UInt32>.size, valueSize: MemoryLayout<fg_counter_value>.size),
        Spec(name: FG_MAP_EVENTS, keySize: 0, valueSize: 0),
        Spec(name: FG_MAP_EVENT_BUDGET, keySize: MemoryLayout<UInt32>.size, valueSize: MemoryLayout<fg_event_budget>.size),
        Spec(name: FG_MAP_AGENT_META, keySize: MemoryLayout<UInt32>.size, valueSize: MemoryLayout<fg_agent_meta>.size),
        Spec(name: FG_MAP_LAST_VERDICT, keySize: MemoryLayout<UInt32>.size, valueSize: MemoryLayout<fg_verdict>.size),
    ]

    public static func spec(named name: String) -> Spec? { all.first { $0.name == name } ?? tries.values.first { $0.name == name } }

    /// The per-bank tries held by the arrays of maps, by outer map: shaped like
    /// maps.h's fg_prefix_v4_trie / fg_prefix_v6_trie (LPM, FG_MAX_PREFIXES, no prealloc).
    public static let tries: [String: Spec] = [
        FG_MAP_PREFIX_V4: Spec(name: "fg_trie_v4", keySize: MemoryLayout<fg_prefix_v4_key>.size, valueSize: MemoryLayout<fg_prefix_value>.size),
        FG_MAP_PREFIX_V6: Spec(name: "fg_trie_v6", keySize: MemoryLayout<fg_prefix_v6_key>.size, valueSize: MemoryLayout<fg_prefix_value>.size),
    ]

    public static let programs = [FG_PROG_TC_EGRESS, FG_PROG_TC_INGRESS, FG_PROG_XDP_INGRESS]
}
