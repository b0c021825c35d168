import CBPFShim
import CFabricABI
import CLibBPF
import FabricCompiler
#if canImport(Glibc)
import Glibc
#endif

/// Writes one bank of a compiled policy into the policy maps: the one place
/// that knows which maps carry the bank in their keys and which hold a trie
/// per bank (the agent and the differential tier both write through it).
public enum PolicyWriter {
    /// Small maps take batch updates of keys that carry the bank. Each prefix
    /// map gets a fresh trie for `bank`, filled and then swapped into the
    /// bank's slot in one update: nothing is emptied entry by entry, and the
    /// trie it replaces is freed by the kernel once no program can be reading it.
    public static func write(_ entries: [MapEntry], bank: UInt32, maps: (String) throws -> BPFMap) throws {
        var packed: [String: (keys: [UInt8], values: [UInt8])] = [:]
        for entry in entries {
            packed[entry.map, default: ([], [])].keys += entry.key
            packed[entry.map, default: ([], [])].values += entry.value
        }
        // Every bank gets its tries, empty ones included: a bank's trie is its policy's, never an older one's.
        for (outer, trie) in ABIMaps.tries.sorted(by: { $0.key < $1.key }) {
            let content = packed.removeValue(forKey: outer) ?? ([], [])
            try maps(outer).replaceTrie(slot: bank, shape: trie, keys: content.keys, values: content.values)
        }
        for name in packed.keys.sorted() {
            try maps(name).updateBatch(keys: packed[name]!.keys, values: packed[name]!.values)
        }
    }
}

extension BPFMap {
    /// For an array of maps: creates an LPM trie of `shape`, fills it, and puts
    /// it in `slot` with one update.
    public func replaceTrie(slot: UInt32, shape: ABIMaps.Spec, keys: [UInt8], values: [UInt8]) throws(BPFError) {
        let fd = fg_map_create(
            UInt32(BPF_MAP_TYPE_LPM_TRIE.rawValue), shape.name, UInt32(shape.keySize), UInt32(shape.valueSize),
            UInt32(FG_MAX_PREFIXES), UInt32(BPF_F_NO_PREALLOC))
        guard fd >= 0 else { throw BPFError(verb: "create map", object: shape.name, errno: -fd) }
        // The array of maps holds its own reference once the trie is in a slot.
        defer { close(fd) }
        let trie = try BPFMap(name: shape.name, fd: fd, ownsDescriptor: false)
        if !keys.isEmpty { try trie.updateBatch(keys: keys, values: values) }
        try update(key: slot, value: UInt32(bitPattern: fd))
    }
}
