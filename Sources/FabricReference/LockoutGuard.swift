import FabricABI
import FabricCompiler
import FabricHost
import FabricPolicy

/// Whether a plan would cut traffic the operator cannot afford to lose
/// (`ProtectedFlow`): the reference decision's call, the one the kernel makes.
public enum LockoutGuard {
    /// One line per direction of a flow that `plan` would drop, with the rule
    /// that drops it; empty when every flow passes (or is only counted, in audit).
    public static func cuts(_ flows: [ProtectedFlow], plan: MapPlan) -> [String] {
        guard !flows.isEmpty else { return [] }
        // Only the prefixes that contain a flow's address can be its longest
        // match: a reference path over those decides these flows exactly as
        // over the whole plan, without a trie of a million prefixes.
        let addresses = flows.flatMap { [$0.local, $0.remote] }
        var relevant = plan
        relevant.prefixes = plan.prefixes.filter { entry in addresses.contains { entry.prefix.contains($0) } }
        let reference = ReferenceDatapath(plan: relevant)
        var cuts: [String] = []
        for flow in flows where flow.local.family == flow.remote.family {
            for direction in Direction.allCases {
                let (source, destination) = direction == .egress ? (flow.local, flow.remote) : (flow.remote, flow.local)
                let explanation = reference.explain(
                    frame: FrameBuilder.udp(source: source, destination: destination), interface: flow.interface,
                    ifindex: flow.ifindex, direction: direction, source: source, destination: destination,
                    names: { plan.interface(index: $0)?.name })
                guard explanation.action == .drop else { continue }
                let way = direction == .egress ? "leaving through" : "arriving on"
                cuts.append(
                    "\(flow.what): \(source) -> \(destination) \(way) \(flow.interface) would be dropped as "
                        + "\(explanation.reason.name) (\(explanation.rule))")
            }
        }
        return cuts
    }
}
