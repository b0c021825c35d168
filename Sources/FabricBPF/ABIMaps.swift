import CFabricABI
internal import CLibBPF

/// The key and value layout of every map named in the ABI header, taken from
/// the imported C structs themselves (never restated by hand).
public enum ABIMaps {
    public struct Spec: Sendable, Equatable {
        public var name: String
        public var keySize: Int
        public var valueSize: Int
    }

    public static let all: [Spec] = [
        // An array of maps: the bank as key, that bank's bucket array (`buckets`) as value.
        Spec(name: FG_MAP_PREFIXES, keySize: MemoryLayout<UInt32>.size, valueSize: MemoryLayout<UInt32>.size),
        Spec(name: FG_MAP_PREFIX_TABLES, keySize: MemoryLayout<UInt32>.size, valueSize: MemoryLayout<fg_prefix_tables>.size),
        Spec(name: FG_MAP_INTERFACES, keySize: MemoryLayout<UInt32>.size, valueSize: MemoryLayout<fg_interface_value>.size),
        Spec(name: FG_MAP_INTERFACES_FAR, keySize: MemoryLayout<fg_interface_key>.size, valueSize: MemoryLayout<UInt32>.size),
        Spec(name: FG_MAP_LOCALS, keySize: MemoryLayout<UInt32>.size, valueSize: MemoryLayout<fg_local_value>.size),
        Spec(name: FG_MAP_FABRICS, keySize: MemoryLayout<UInt32>.size, valueSize: MemoryLayout<fg_fabric_value>.size),
        Spec(name: FG_MAP_STATE, keySize: MemoryLayout<UInt32>.size, valueSize: MemoryLayout<fg_state>.size),
        Spec(name: FG_MAP_COUNTERS, keySize: MemoryLayout<UInt32>.size, valueSize: MemoryLayout<fg_counter_value>.size),
        Spec(name: FG_MAP_EVENTS, keySize: 0, valueSize: 0),
        Spec(name: FG_MAP_EVENT_BUCKETS, keySize: MemoryLayout<UInt32>.size, valueSize: MemoryLayout<fg_event_bucket>.size),
        Spec(name: FG_MAP_EVENT_TALLY, keySize: MemoryLayout<UInt32>.size, valueSize: MemoryLayout<fg_event_tally>.size),
        Spec(name: FG_MAP_SETTINGS, keySize: MemoryLayout<UInt32>.size, valueSize: MemoryLayout<fg_settings>.size),
        Spec(name: FG_MAP_AGENT_META, keySize: MemoryLayout<UInt32>.size, valueSize: MemoryLayout<fg_agent_meta>.size),
        Spec(name: FG_MAP_LAST_VERDICT, keySize: MemoryLayout<UInt32>.size, valueSize: MemoryLayout<fg_verdict>.size),
        Spec(name: FG_MAP_SOURCE_MEMO, keySize: MemoryLayout<UInt32>.size, valueSize: MemoryLayout<fg_source_memo>.size),
    ]

    public static func spec(named name: String) -> Spec? { all.first { $0.name == name } ?? (name == buckets.name ? buckets : nil) }

    /// A bank's bucket array, held by fg_prefixes: shaped like maps.h's
    /// fg_prefix_buckets (an array, sized per policy, `bucketFlags`).
    public static let buckets = Spec(name: "fg_buckets", keySize: MemoryLayout<UInt32>.size, valueSize: MemoryLayout<fg_prefix_bucket>.size)
    public static let bucketFlags = UInt32(BPF_F_INNER_MAP | BPF_F_MMAPABLE)
    /// The map type of each bank's bucket array (BPF_MAP_TYPE_ARRAY).
    public static let bucketType = BPF_MAP_TYPE_ARRAY.rawValue

    public static let programs = [FG_PROG_TC_EGRESS, FG_PROG_TC_INGRESS, FG_PROG_XDP_INGRESS]
}
