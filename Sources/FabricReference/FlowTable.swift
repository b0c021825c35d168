import CPrefetch

/// The dry-run's offending flows, counted in place: open addressing (linear probing)
/// over one flat array, hashed with the standard library's seeded `Hasher` as a
/// Dictionary is (a capture is untrusted input). What a Dictionary does not offer: a
/// flow's slot can be prefetched by its hash before the flow is counted, so that a
/// batch of frames waits for its slots all at once rather than one after another.
struct FlowTable {
    struct Slot {
        var key: DryRun.FlowKey
        var tally: DryRun.FlowTally
    }

    private(set) var count = 0
    /// A power of two, at most half full.
    private var slots = [Slot?](repeating: nil, count: 1024)

    static func hash(_ key: DryRun.FlowKey) -> Int { key.hashValue }

    /// Prefetches the slot where the search for a key of `hash` starts.
    func prefetch(hash: Int) {
        slots.withUnsafeBufferPointer { slots in
            let slot = UnsafeRawPointer(slots.baseAddress! + (hash & (slots.count - 1)))
            fg_prefetch(slot)
            // A slot is wider than a cache line: its far end too.
            fg_prefetch(slot + MemoryLayout<Slot?>.size - 1)
        }
    }

    /// Counts a frame of flow `key` (`hash` is `FlowTable.hash(key)`) seen at `time`.
    /// A new flow is added while the table holds fewer than `limit`; false when it was not.
    mutating func count(_ key: DryRun.FlowKey, hash: Int, time: DryRun.Timestamp, limit: Int) -> Bool {
        let mask = slots.count - 1
        var position = hash & mask
        while let slot = slots[position] {
            if slot.key == key {
                slots[position]!.tally.packets += 1
                slots[position]!.tally.first = min(slot.tally.first, time)
                slots[position]!.tally.last = max(slot.tally.last, time)
                return true
            }
            position = (position + 1) & mask
        }
        guard count < limit else { return false }
        slots[position] = Slot(key: key, tally: DryRun.FlowTally(packets: 1, first: time, last: time))
        count += 1
        if count * 2 > slots.count { grow() }
        return true
    }

    private mutating func grow() {
        let old = slots
        slots = [Slot?](repeating: nil, count: old.count * 2)
        let mask = slots.count - 1
        for case let slot? in old {
            var position = Self.hash(slot.key) & mask
            while slots[position] != nil { position = (position + 1) & mask }
            slots[position] = slot
        }
    }

    /// Every flow counted, in no particular order.
    var entries: [(key: DryRun.FlowKey, value: DryRun.FlowTally)] {
        slots.compactMap { $0.map { (key: $0.key, value: $0.tally) } }
    }
}
