internal import CBPFShim
import CFabricABI
internal import CLibBPF
import FabricCompiler
#if canImport(Glibc)
import Glibc
import FabricSystem
#endif

/// Writes one bank of a compiled policy into the policy maps: the one place
/// that knows which maps carry the bank in their keys and which hold an inner
/// map per bank (the agent and the differential tier both write through it).
public enum PolicyWriter {
    /// Small maps take batch updates of keys that carry the bank. The bucket
    /// array (the one fg_prefixes entry) goes into the bank's inner map: in
    /// place when the one there is large enough, else into a new one swapped
    /// into the slot with one update (the kernel frees the old one once no
    /// program can be reading it).
    ///
    /// `innerPins`, a directory, keeps each bank's bucket array pinned as
    /// `fg_buckets-BANK`, so that a later write reopens it by path: reopening it
    /// by id (BPF_MAP_GET_FD_BY_ID) needs CAP_SYS_ADMIN, which the agent does
    /// not otherwise need. Beside it, `fg_bucket_sums-BANK` records what the
    /// array holds, so that a later write touches only the blocks that differ
    /// (`BucketSumsRecord`); without `innerPins` every write is whole.
    public static func write(
        _ entries: [MapEntry], bank: UInt32, innerPins: String? = nil, maps: (String) throws -> BPFMap
    ) throws {
        var packed: [String: (keys: [UInt8], values: [UInt8])] = [:]
        for entry in entries {
            if entry.map == FG_MAP_PREFIXES {
                // Megabytes at large policies: straight from the entry, never copied.
                let pin = innerPins.map { "\($0)/\(ABIMaps.buckets.name)-\(bank)" }
                let sumsPin = innerPins.map { "\($0)/\(BucketSumsRecord.name)-\(bank)" }
                try maps(FG_MAP_PREFIXES).writeBuckets(
                    slot: bank, bytes: entry.value, sums: entry.blockSums, pin: pin, sumsPin: sumsPin)
                continue
            }
            packed[entry.map, default: ([], [])].keys += entry.key
            packed[entry.map, default: ([], [])].values += entry.value
        }
        // The bank's whole interface table, zeros included: no interface of an older policy stays managed.
        let interfaces = packed.removeValue(forKey: FG_MAP_INTERFACES) ?? ([], [])
        try maps(FG_MAP_INTERFACES).withMapped(UInt8.self) { table in
            let size = MemoryLayout<fg_interface_value>.size
            let start = Int(bank) * Int(FG_INTERFACE_ENTRIES)
            table[start * size..<(start + Int(FG_INTERFACE_ENTRIES)) * size].update(repeating: 0)
            interfaces.keys.withUnsafeBytes { keys in
                for (entry, offset) in stride(from: 0, to: keys.count, by: 4).enumerated() {
                    let index = Int(keys.load(fromByteOffset: offset, as: UInt32.self))
                    precondition(index >= start && index < start + Int(FG_INTERFACE_ENTRIES), "fg_interfaces entry outside bank \(bank)")
                    let value = interfaces.values[entry * size..<(entry + 1) * size]
                    _ = UnsafeMutableBufferPointer(rebasing: table[index * size..<(index + 1) * size]).initialize(from: value)
                }
            }
        }
        for name in packed.keys.sorted() {
            try maps(name).updateBatch(keys: packed[name]!.keys, values: packed[name]!.values)
        }
    }
}

extension BPFMap {
    /// For fg_prefixes: `bytes` (whole buckets) at the start of the bucket
    /// array in `slot`. The standby bank is written in place when its array is
    /// large enough (no program reads it before the flip; replacing an inner
    /// map instead would wait for an RCU grace period); otherwise a new array
    /// with an eighth of headroom takes the slot.
    ///
    /// In place, with `sums` (`PrefixBuckets.blockSums` of `bytes`) and a
    /// `sumsPin` recording what the array holds, only the blocks that differ
    /// are written: re-applying a policy, or one that changed a little, costs
    /// kilobytes instead of the whole array. Returns the blocks written.
    @discardableResult
    public func writeBuckets(
        slot: UInt32, bytes: [UInt8], sums: [BucketBlocks.Sum] = [], pin: String? = nil, sumsPin: String? = nil
    ) throws(SystemError) -> Int {
        let shape = ABIMaps.buckets
        let needed = bytes.count / shape.valueSize
        if let current = try innerMap(slot: slot, name: shape.name, pin: pin),
           current.facts.maxEntries >= needed, current.facts.flags == ABIMaps.bucketFlags {
            let record = sumsPin.flatMap { BucketSumsRecord(pin: $0, for: current) }
            let held = sums.isEmpty ? nil : record?.held(by: current)
            // Forgotten first: a write cut short leaves sums that nothing trusts.
            try record?.forget()
            let runs = BucketBlocks.runs(wanted: sums, held: held)
            try current.writeMapped(bytes, blocks: runs, whole: held == nil)
            if let sumsPin, !sums.isEmpty {
                let kept: BucketSumsRecord
                if let record { kept = record } else { kept = try BucketSumsRecord.create(pin: sumsPin, for: current) }
                try kept.remember(sums, heldBefore: held, by: current)
            }
            return held == nil ? BucketBlocks.count(bytes: bytes.count) : runs.reduce(0) { $0 + $1.count }
        }
        guard needed > 0 else { return 0 }  // no prefixes: the bank's tables list none
        let perPage = Int(sysconf(Int32(_SC_PAGESIZE))) / shape.valueSize
        let capacity = (needed + needed / 8 + perPage - 1) / perPage * perPage
        let fd = fg_map_create(
            UInt32(BPF_MAP_TYPE_ARRAY.rawValue), shape.name, UInt32(shape.keySize), UInt32(shape.valueSize),
            UInt32(capacity), ABIMaps.bucketFlags)
        guard fd >= 0 else { throw SystemError(verb: "create map", object: shape.name, errno: -fd) }
        // The array of maps holds its own reference once the array is in a slot.
        defer { close(fd) }
        let created = try BPFMap(name: shape.name, fd: fd, ownsDescriptor: false)
        try created.writeMapped(bytes, blocks: [], whole: true)
        try update(key: slot, value: UInt32(bitPattern: fd))
        if let pin {
            unlink(pin)
            try created.pin(at: pin)
        }
        if let sumsPin {
            // The new array is zero past `bytes`: its sums are known from here on.
            unlink(sumsPin)
            if !sums.isEmpty { try BucketSumsRecord.create(pin: sumsPin, for: created).remember(sums, heldBefore: nil, by: created) }
        }
        return BucketBlocks.count(bytes: bytes.count)
    }

    /// The inner map in `slot` of an array of maps, nil when the slot is empty
    /// or the map cannot be reopened without CAP_SYS_ADMIN (the caller then
    /// makes a new one). `pin` is where it was pinned, if it was: that copy
    /// is used when it is still the one in the slot.
    func innerMap(slot: UInt32, name: String, pin: String?) throws(SystemError) -> BPFMap? {
        var id: UInt32 = 0
        var key = slot
        if bpf_map_lookup_elem(fd, &key, &id) < 0 {
            if errno == ENOENT { return nil }
            throw SystemError(verb: "look up map", object: self.name, errno: errno)
        }
        if let pin, let pinned = try? BPFMap.pinned(at: pin, name: name), pinned.facts.id == id { return pinned }
        let inner = bpf_map_get_fd_by_id(id)
        if inner < 0 {
            if errno == EPERM { return nil }
            throw SystemError(verb: "open map", object: "\(name) (id \(id))", errno: errno)
        }
        do {
            return try BPFMap(name: name, fd: inner, ownsDescriptor: true)
        } catch {
            close(inner)
            throw error
        }
    }

    /// Copies `bytes` to the start of an mmap-able array's values: all of
    /// them when `whole`, else only the `BucketBlocks` in `blocks`.
    ///
    /// A window of `writeWindow` bytes is mapped at a time: a page written
    /// through a shared mapping counts toward the process's resident memory
    /// until it is unmapped, and a bank's buckets at a million prefixes are
    /// tens of MB that would otherwise all be resident at once, on top of the
    /// compiled plan they are copied from.
    func writeMapped(_ bytes: [UInt8], blocks: [Range<Int>], whole: Bool) throws(SystemError) {
        guard !bytes.isEmpty, whole || !blocks.isEmpty else { return }
        let length = facts.maxEntries * facts.valueSize  // values of a multiple of 8 bytes: no spacing
        guard facts.valueSize % 8 == 0 else {
            throw SystemError(verb: "write map", object: name, errno: EINVAL, detail: "values of \(facts.valueSize) bytes are spaced in the mapping")
        }
        guard bytes.count <= length else {
            throw SystemError(verb: "write map", object: name, errno: E2BIG, detail: "\(bytes.count) bytes exceed \(length)")
        }
        let runs = whole
            ? [0..<bytes.count]
            : blocks.map { $0.lowerBound * BucketBlocks.bytes..<min($0.upperBound * BucketBlocks.bytes, bytes.count) }
        let page = sysconf(Int32(_SC_PAGESIZE))
        try bytes.withUnsafeBufferPointer { (source) throws(SystemError) in
            for start in stride(from: 0, to: bytes.count, by: Self.writeWindow) {
                let window = start..<min(start + Self.writeWindow, bytes.count)
                let pieces = runs.map { $0.clamped(to: window) }.filter { !$0.isEmpty }
                guard !pieces.isEmpty else { continue }
                // A whole window is populated in one call instead of a fault per page;
                // a few blocks fault in only the pages they touch.
                let mapped = (window.count + page - 1) / page * page
                let base = mmap(nil, mapped, PROT_READ | PROT_WRITE, MAP_SHARED | (whole ? MAP_POPULATE : 0), fd, off_t(start))
                guard let base, base != MAP_FAILED else { throw SystemError(verb: "map", object: name, errno: errno) }
                defer { munmap(base, mapped) }
                for piece in pieces {
                    (base + (piece.lowerBound - start))
                        .copyMemory(from: source.baseAddress! + piece.lowerBound, byteCount: piece.count)
                }
            }
        }
    }

    /// How much of a map `writeMapped` maps at once: a multiple of every page size.
    static let writeWindow = 4 << 20

    /// The values of an mmap-able array, for the length of `body`: writes
    /// through it are what the programs read. The kernel spaces values 8 bytes
    /// apart at least, so `Element` is a whole value padded to a multiple of 8
    /// (UInt64 for a __u32 array, UInt8 for a byte view of whole values).
    func withMapped<Element>(
        _: Element.Type, populate: Bool = true, _ body: (UnsafeMutableBufferPointer<Element>) throws -> Void
    ) throws(SystemError) {
        let spacing = (facts.valueSize + 7) & ~7
        let length = facts.maxEntries * spacing
        guard MemoryLayout<Element>.stride == 1 ? spacing == facts.valueSize : MemoryLayout<Element>.stride == spacing else {
            throw SystemError(verb: "map", object: name, errno: EINVAL, detail: "values are \(spacing) bytes apart, not \(MemoryLayout<Element>.stride)")
        }
        // Populated up front: one call maps every page instead of a fault per page on first write.
        let base = mmap(nil, length, PROT_READ | PROT_WRITE, MAP_SHARED | (populate ? MAP_POPULATE : 0), fd, 0)
        guard let base, base != MAP_FAILED else { throw SystemError(verb: "map", object: name, errno: errno) }
        defer { munmap(base, length) }
        let values = base.bindMemory(to: Element.self, capacity: length / MemoryLayout<Element>.stride)
        do {
            try body(UnsafeMutableBufferPointer(start: values, count: length / MemoryLayout<Element>.stride))
        } catch {
            throw SystemError(verb: "write map", object: name, errno: 0, detail: "\(error)")
        }
    }
}

/// What a bank's bucket array holds, as `BucketBlocks` sums: a small mmap-able
/// array pinned beside the bucket array (`fg_bucket_sums-BANK`), entry 0 the
/// header (the bucket array's map id, the blocks known), then one sum per
/// block. Only the agent's writer reads it; the programs never see it.
struct BucketSumsRecord {
    static let name = "fg_bucket_sums"
    let map: BPFMap

    /// The record at `pin`, nil when there is none or it is too small for `buckets`.
    init?(pin: String, for buckets: BPFMap) {
        guard let map = try? BPFMap.pinned(at: pin, name: Self.name), map.facts.valueSize == MemoryLayout<BucketBlocks.Sum>.stride,
              map.facts.maxEntries >= Self.entries(for: buckets), map.facts.flags & UInt32(BPF_F_MMAPABLE) != 0
        else { return nil }
        self.map = map
    }

    private init(map: BPFMap) { self.map = map }

    static func entries(for buckets: BPFMap) -> Int { 1 + BucketBlocks.count(bytes: buckets.facts.maxEntries * buckets.facts.valueSize) }

    /// A new record, pinned at `pin` (replacing one there), that knows nothing yet.
    static func create(pin: String, for buckets: BPFMap) throws(SystemError) -> BucketSumsRecord {
        let fd = fg_map_create(
            UInt32(BPF_MAP_TYPE_ARRAY.rawValue), name, UInt32(MemoryLayout<UInt32>.size),
            UInt32(MemoryLayout<BucketBlocks.Sum>.stride), UInt32(entries(for: buckets)), UInt32(BPF_F_MMAPABLE))
        guard fd >= 0 else { throw SystemError(verb: "create map", object: name, errno: -fd) }
        let map = try BPFMap(name: name, fd: fd, ownsDescriptor: true)
        unlink(pin)
        try map.pin(at: pin)
        return BucketSumsRecord(map: map)
    }

    /// The sums of what `buckets` holds; nil when the record is of another array.
    func held(by buckets: BPFMap) -> [BucketBlocks.Sum]? {
        var held: [BucketBlocks.Sum]?
        try? map.withMapped(BucketBlocks.Sum.self) { values in
            let header = values[0]
            guard header.low == UInt64(buckets.facts.id), header.high < UInt64(values.count) else { return }
            held = Array(values[1..<1 + Int(header.high)])
        }
        return held
    }

    /// Nothing is known until `remember`.
    func forget() throws(SystemError) {
        try map.withMapped(BucketBlocks.Sum.self, populate: false) { $0[0] = .zero }
    }

    /// `buckets` now holds `sums`' blocks and, past them, what `heldBefore` knew.
    func remember(_ sums: [BucketBlocks.Sum], heldBefore: [BucketBlocks.Sum]?, by buckets: BPFMap) throws(SystemError) {
        try map.withMapped(BucketBlocks.Sum.self) { values in
            let known = max(sums.count, heldBefore?.count ?? 0)
            guard known < values.count else { return }
            for (index, sum) in sums.enumerated() { values[1 + index] = sum }
            values[0] = BucketBlocks.Sum(low: UInt64(buckets.facts.id), high: UInt64(known))
        }
    }
}
