import FabricABI
import FabricCompiler
import FabricFixtures
import FabricHost
import FabricPolicy
import FabricReference
import Testing

/// The lockout guard judges a flow over the prefixes that contain its
/// addresses only; what it refuses must be what the whole plan drops.
@Suite struct LockoutGuardTests {
    @Test func theGuardDropsWhatTheWholePlanDrops() throws {
        let plan = try PolicyCompiler.compile(FixtureWorld.policy(), host: FixtureWorld.host).plan
        let whole = ReferenceDatapath(plan: plan)
        // Every written prefix's first address (nested ones included), the host's own, and strangers.
        let addresses = plan.prefixes.map(\.prefix.address) + plan.locals.map(\.address)
            + [IPAddress("192.0.2.1")!, IPAddress("2001:db8::1")!]
        var flows: [ProtectedFlow] = []
        for entry in plan.interfaces {
            for local in addresses {
                for remote in addresses where remote.family == local.family && remote != local {
                    flows.append(ProtectedFlow(what: "flow", interface: entry.name, ifindex: entry.ifindex, local: local, remote: remote))
                }
            }
        }
        var expected: [String] = []
        for flow in flows {
            for direction in Direction.allCases {
                let (source, destination) = direction == .egress ? (flow.local, flow.remote) : (flow.remote, flow.local)
                let explanation = whole.explain(
                    frame: FrameBuilder.udp(source: source, destination: destination), interface: flow.interface,
                    ifindex: flow.ifindex, direction: direction, source: source, destination: destination,
                    names: { plan.interface(index: $0)?.name })
                guard explanation.action == .drop else { continue }
                let way = direction == .egress ? "leaving through" : "arriving on"
                expected.append(
                    "\(flow.what): \(source) -> \(destination) \(way) \(flow.interface) would be dropped as "
                        + "\(explanation.reason.name) (\(explanation.rule))")
            }
        }
        #expect(!expected.isEmpty, "the fixture world should drop some of these flows")
        #expect(LockoutGuard.cuts(flows, plan: plan) == expected)
        #expect(LockoutGuard.cuts([], plan: plan).isEmpty)
    }
}
