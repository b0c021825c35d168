import FabricABI
import FabricAgent
import FabricSystem

/// The daemon's `KernelSampler`: the pinned maps of its pin directory, through
/// a datapath of its own (the reconcile loop's is not shared across threads),
/// and each recorded hook as the kernel reports it.
public final class PinnedSampler: KernelSampler {
    private let datapath: Locked<LinuxDatapath>

    public init(pinDirectory: String) {
        datapath = Locked(LinuxDatapath(pinDirectory: pinDirectory))
    }

    public func sample() throws -> KernelSample {
        try datapath.withLock { datapath in
            var sample = KernelSample()
            guard let record = try datapath.record() else { return sample }
            let fabrics = Dictionary(record.interfaces.map { ($0.name, $0.fabric) }, uniquingKeysWith: { first, _ in first })
            // Slot -> name once per scrape, not a search of the record per cell.
            var names = [UInt32: String](uniqueKeysWithValues: record.counterSlots.map { ($0.value, $0.key) })
            names[ABILimits.unmanagedSlot] = "(unmanaged)"
            func name(_ slot: UInt32) -> String { names[slot] ?? "slot \(slot)" }
            let slots = (record.counterSlots.values.max() ?? 0) + 1
            for (key, value) in try datapath.counters(slots: slots) where value.packets != 0 {
                let interface = name(key.slot)
                sample.cells.append(.init(
                    interface: interface, fabric: fabrics[interface] ?? "", direction: key.direction, reason: key.reason,
                    action: key.action, packets: value.packets, bytes: value.bytes))
            }
            for (key, tally) in try datapath.eventTallies() {
                sample.events.append(.init(
                    interface: name(key.slot), reason: key.reason, sent: tally.sent, suppressed: tally.suppressed + tally.ringFull))
            }
            for interface in record.interfaces {
                let present = Set(try datapath.hooks(ifindex: interface.ifindex).map(\.hook))
                for hook in interface.hooks {
                    sample.hooks.append(.init(interface: interface.name, hook: hook.rawValue, attached: present.contains(hook)))
                }
            }
            let state = try datapath.generation()
            sample.generation = state?.generation
            sample.digest = record.digest
            sample.policy = record.policy
            return sample
        }
    }
}
