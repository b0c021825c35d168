internal import CBPFShim
internal import CLibBPF

#if canImport(Glibc)
import Glibc
import FabricSystem
#endif

/// A BPF map by file descriptor, its key and value sizes checked against the
/// ABI when opened, so a byte buffer of the wrong shape never reaches the kernel.
public final class BPFMap: @unchecked Sendable {
    public let name: String
    public let fd: Int32
    public let facts: Facts
    /// False when the fd belongs to a `BPFObject` that closes it.
    private let ownsDescriptor: Bool

    public struct Facts: Sendable, Equatable {
        public var type: UInt32
        public var keySize: Int
        public var valueSize: Int
        public var maxEntries: Int
        public var flags: UInt32
        public var id: UInt32
    }

    init(name: String, fd: Int32, ownsDescriptor: Bool) throws(SystemError) {
        var raw = fg_map_facts()
        try SystemError.checkNegated(fg_map_facts(fd, &raw), "inspect map", name)
        self.name = name
        self.fd = fd
        self.ownsDescriptor = ownsDescriptor
        facts = Facts(
            type: raw.type, keySize: Int(raw.key_size), valueSize: Int(raw.value_size),
            maxEntries: Int(raw.max_entries), flags: raw.map_flags, id: raw.id)
        if let expected = ABIMaps.spec(named: name) {
            guard facts.keySize == expected.keySize, facts.valueSize == expected.valueSize else {
                throw SystemError(
                    verb: "open map", object: name, errno: 0,
                    detail: "key/value sizes \(facts.keySize)/\(facts.valueSize) differ from this binary's ABI (\(expected.keySize)/\(expected.valueSize))")
            }
        }
    }

    /// Opens a pinned map (a path under bpffs).
    public static func pinned(at path: String, name: String) throws(SystemError) -> BPFMap {
        let fd = try SystemError.check(bpf_obj_get(path), "open pinned map", path)
        do {
            return try BPFMap(name: name, fd: fd, ownsDescriptor: true)
        } catch {
            close(fd)
            throw error
        }
    }

    deinit {
        if ownsDescriptor { close(fd) }
    }

    public var isPerCPU: Bool {
        facts.type == UInt32(BPF_MAP_TYPE_PERCPU_ARRAY.rawValue) || facts.type == UInt32(BPF_MAP_TYPE_PERCPU_HASH.rawValue)
    }

    /// Writes `value` at `key`; per-CPU maps take one value per possible CPU (`lookupSize` bytes).
    public func update(key: [UInt8], value: [UInt8]) throws(SystemError) {
        try checkSizes(key: key.count, value: isPerCPU && value.count == lookupSize ? facts.valueSize : value.count)
        let result = key.withUnsafeBytes { keyBytes in
            value.withUnsafeBytes { valueBytes in
                bpf_map_update_elem(fd, keyBytes.baseAddress, valueBytes.baseAddress, UInt64(BPF_ANY))
            }
        }
        try SystemError.check(result, "update map", name)
    }

    /// Deletes `key`; a missing key is not an error.
    public func delete(key: [UInt8]) throws(SystemError) {
        try checkSizes(key: key.count, value: facts.valueSize)
        let result = key.withUnsafeBytes { bpf_map_delete_elem(fd, $0.baseAddress) }
        if result < 0, errno != ENOENT { throw SystemError(verb: "delete from map", object: name, errno: errno) }
    }

    /// The value for `key`; per-CPU maps return one value per possible CPU, concatenated.
    public func lookup(key: [UInt8]) throws(SystemError) -> [UInt8]? {
        try checkSizes(key: key.count, value: facts.valueSize)
        var value = [UInt8](repeating: 0, count: lookupSize)
        let result = key.withUnsafeBytes { keyBytes in
            value.withUnsafeMutableBytes { bpf_map_lookup_elem(fd, keyBytes.baseAddress, $0.baseAddress) }
        }
        if result < 0 {
            if errno == ENOENT { return nil }
            throw SystemError(verb: "look up in map", object: name, errno: errno)
        }
        return value
    }

    /// Every key, back to back in one buffer (no array per key: maps hold a million).
    public func packedKeys() throws(SystemError) -> [UInt8] {
        var keys: [UInt8] = []
        var next = [UInt8](repeating: 0, count: facts.keySize)
        var first = true
        while true {
            let result: Int32 = next.withUnsafeMutableBytes { nextBytes in
                if first { return bpf_map_get_next_key(fd, nil, nextBytes.baseAddress) }
                return keys.withUnsafeBytes { bpf_map_get_next_key(fd, $0.baseAddress! + $0.count - facts.keySize, nextBytes.baseAddress) }
            }
            if result < 0 {
                if errno == ENOENT { return keys }
                throw SystemError(verb: "iterate map", object: name, errno: errno)
            }
            keys += next
            first = false
        }
    }

    /// Entries per BPF_MAP_*_BATCH call: large enough to amortise the system
    /// call, small enough that the kernel's copy of the chunk stays modest.
    static let batchSize = 16_384

    /// Writes many entries in few system calls (BPF_MAP_UPDATE_BATCH); `keys`
    /// and `values` hold the keys and the values back to back, in the same order
    /// (a per-CPU map's value is one per possible CPU, `lookupSize` bytes).
    public func updateBatch(keys: [UInt8], values: [UInt8]) throws(SystemError) {
        let count = keys.count / facts.keySize
        let valueSize = lookupSize
        guard keys.count == count * facts.keySize, values.count == count * valueSize else {
            throw SystemError(verb: "update map", object: name, errno: EINVAL,
                           detail: "\(keys.count) key bytes and \(values.count) value bytes are not whole \(facts.keySize)/\(valueSize)-byte entries")
        }
        var done = 0
        while done < count {
            var chunk = UInt32(min(BPFMap.batchSize, count - done))
            let result = keys.withUnsafeBytes { keyBytes in
                values.withUnsafeBytes { valueBytes in
                    bpf_map_update_batch(fd, keyBytes.baseAddress! + done * facts.keySize,
                                         valueBytes.baseAddress! + done * valueSize, &chunk, nil)
                }
            }
            try SystemError.check(result, "update map", name)
            done += Int(chunk)
        }
    }

    /// Deletes many keys (packed back to back) in few system calls; every key must exist.
    public func deleteBatch(keys: [UInt8]) throws(SystemError) {
        let count = keys.count / facts.keySize
        var done = 0
        while done < count {
            var chunk = UInt32(min(BPFMap.batchSize, count - done))
            let result = keys.withUnsafeBytes { bpf_map_delete_batch(fd, $0.baseAddress! + done * facts.keySize, &chunk, nil) }
            try SystemError.check(result, "delete from map", name)
            done += Int(chunk)
        }
    }

    /// The kernel rounds each per-CPU value up to 8 bytes, one per possible CPU.
    public var lookupSize: Int {
        isPerCPU ? (facts.valueSize + 7) / 8 * 8 * Int(libbpf_num_possible_cpus()) : facts.valueSize
    }

    // MARK: Typed access (key and value are ABI structs or fixed-width integers)

    public func update<Key, Value>(key: Key, value: Value) throws(SystemError) {
        try update(key: Self.bytes(of: key), value: Self.bytes(of: value))
    }

    public func lookup<Key, Value>(key: Key, as _: Value.Type) throws(SystemError) -> Value? {
        try lookup(key: Self.bytes(of: key)).map { bytes in bytes.withUnsafeBytes { $0.loadUnaligned(as: Value.self) } }
    }

    /// A per-CPU map's value on every possible CPU.
    public func perCPU<Key, Value>(key: Key, as _: Value.Type) throws(SystemError) -> [Value]? {
        let stride = (facts.valueSize + 7) / 8 * 8
        return try lookup(key: Self.bytes(of: key)).map { bytes in
            bytes.withUnsafeBytes { raw in
                (0..<(bytes.count / stride)).map { raw.loadUnaligned(fromByteOffset: $0 * stride, as: Value.self) }
            }
        }
    }

    /// Every value of an array map in key order, read in few system calls
    /// (BPF_MAP_LOOKUP_BATCH): a per-CPU map gives one value per possible CPU
    /// for each key, back to back. What a scrape of the counters costs.
    /// `keys` limits the read to a range of the array's indexes.
    @inlinable
    public func arrayValues<Value>(as _: Value.Type, keys: Range<Int>? = nil) throws(SystemError) -> [Value] {
        let (values, count) = try arrayBytes(keys: keys)
        let stride = valueStride
        // Loaded here, where Value is concrete: a generic load per value was
        // most of a scrape's user time.
        return values.withUnsafeBytes { raw in
            (0..<(count / stride)).map { raw.loadUnaligned(fromByteOffset: $0 * stride, as: Value.self) }
        }
    }

    /// The bytes `arrayValues` decodes, and how many of them hold values.
    public func arrayBytes(keys range: Range<Int>? = nil) throws(SystemError) -> (bytes: [UInt8], count: Int) {
        let range = (range ?? 0..<facts.maxEntries).clamped(to: 0..<facts.maxEntries)
        let entries = range.count
        let perKey = lookupSize
        var keys = [UInt8](repeating: 0, count: entries * facts.keySize)
        var values = [UInt8](repeating: 0, count: entries * perKey)
        // The kernel starts after the key in in_batch (none: at 0) and leaves
        // the last key it read in out_batch, the next call's start.
        var token = UInt32(max(range.lowerBound - 1, 0))
        var done = 0
        var first = range.lowerBound == 0
        while done < entries {
            var chunk = UInt32(min(BPFMap.batchSize, entries - done))
            let result = keys.withUnsafeMutableBytes { keyBytes in
                values.withUnsafeMutableBytes { valueBytes in
                    withUnsafeMutablePointer(to: &token) { next in
                        bpf_map_lookup_batch(
                            fd, first ? nil : UnsafeMutableRawPointer(next), next, keyBytes.baseAddress! + done * facts.keySize,
                            valueBytes.baseAddress! + done * perKey, &chunk, nil)
                    }
                }
            }
            let failure = errno
            first = false
            done += Int(chunk)
            if result < 0 {
                if failure == ENOENT { break }
                throw SystemError(verb: "read map", object: name, errno: failure)
            }
        }
        return (values, done * perKey)
    }

    /// The number of values `arrayValues` gives per key.
    public var valuesPerKey: Int { lookupSize / valueStride }

    /// Per-CPU values are 8-byte aligned, one after the other.
    public var valueStride: Int { isPerCPU ? (facts.valueSize + 7) / 8 * 8 : facts.valueSize }

    /// Zeroes a per-CPU map's value on every CPU.
    public func zeroPerCPU<Key>(key: Key) throws(SystemError) {
        try update(key: Self.bytes(of: key), value: [UInt8](repeating: 0, count: lookupSize))
    }

    public static func bytes<T>(of value: T) -> [UInt8] { withUnsafeBytes(of: value) { Array($0) } }

    /// Pins the map at `path` (a bpffs path).
    public func pin(at path: String) throws(SystemError) {
        try SystemError.check(bpf_obj_pin(fd, path), "pin map \(name) at", path)
    }

    private func checkSizes(key: Int, value: Int) throws(SystemError) {
        guard key == facts.keySize, value == facts.valueSize else {
            throw SystemError(
                verb: "use map", object: name, errno: EINVAL,
                detail: "key/value of \(key)/\(value) bytes, the map holds \(facts.keySize)/\(facts.valueSize)")
        }
    }
}
