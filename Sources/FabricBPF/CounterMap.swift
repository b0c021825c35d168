import CFabricABI
import FabricSystem

/// fg_counters as its readers see it: every CPU's copy of the counters' cells, one CPU
/// after the other (`fg_counter_key`). Cells are numbered by `fg_counter_index` and decoded
/// with `fg_counter_cell_of`, so a reader never deals in the CPUs' layout.
extension BPFMap {
    /// The CPUs the map keeps counters for (the possible CPUs when it was made).
    public var counterCPUs: Int { facts.maxEntries / Int(fg_counter_key(1, 0)) }

    /// The cells of counter slots `slots`, each summed over the CPUs, in `fg_counter_index`
    /// order; read in few system calls (BPF_MAP_LOOKUP_BATCH, a range per CPU).
    public func counterSums(slots: Range<Int>) throws(SystemError) -> [(index: UInt32, sum: fg_counter_value)] {
        let cells = Int(FG_COUNTER_CELLS)
        let first = slots.lowerBound * cells
        var sums = [fg_counter_value](repeating: fg_counter_value(), count: slots.count * cells)
        for cpu in 0..<counterCPUs {
            let base = Int(fg_counter_key(UInt32(cpu), UInt32(first)))
            let values = try arrayValues(as: fg_counter_value.self, keys: base..<base + sums.count)
            for (offset, value) in values.enumerated() {
                sums[offset].packets &+= value.packets
                sums[offset].bytes &+= value.bytes
            }
        }
        return sums.enumerated().map { (UInt32(first + $0.offset), $0.element) }
    }

    /// Sets the cells of `slots` to `value(cell)` on every CPU, where `cell` is a cell's
    /// `fg_counter_index`: zero to reset them.
    public func setCounters(slots: some Sequence<UInt32>, _ value: (UInt32) -> fg_counter_value) throws(SystemError) {
        let cells = UInt32(FG_COUNTER_CELLS)
        var keys: [UInt8] = [], values: [UInt8] = []
        for slot in slots {
            for index in slot * cells..<(slot + 1) * cells {
                let counter = value(index)
                for cpu in 0..<UInt32(counterCPUs) {
                    keys += Self.bytes(of: fg_counter_key(cpu, index))
                    values += Self.bytes(of: counter)
                }
            }
        }
        guard !keys.isEmpty else { return }
        try updateBatch(keys: keys, values: values)
    }
}
