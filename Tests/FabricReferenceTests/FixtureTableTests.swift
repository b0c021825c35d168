import FabricABI
import FabricCompiler
import FabricFixtures
import FabricHost
import FabricPolicy
import FabricReference
import Testing

/// The reference path against the hand-written fixture table (the same table
/// the kernel tier runs through BPF_PROG_TEST_RUN).
@Suite("Reference decision: fixture table")
struct FixtureTableTests {
    static let datapath: ReferenceDatapath = {
        do {
            let compilation = try PolicyCompiler.compile(FixtureWorld.policy(), host: FixtureWorld.host)
            return ReferenceDatapath(plan: compilation.plan)
        } catch {
            fatalError("the fixture world must compile: \(error)")
        }
    }()

    static func actual(_ fixture: Fixture) -> Fixture.Expected {
        let decision = datapath.decide(frame: fixture.frame, ifindex: fixture.ifindex, direction: fixture.direction)
        return Fixture.Expected(
            reason: decision.reason, action: decision.action,
            redirectInterface: decision.redirectIfindex == 0 ? nil : FixtureWorld.host.interface(index: decision.redirectIfindex)?.name)
    }

    @Test(arguments: Fixtures.all)
    func fixture(_ fixture: Fixture) {
        #expect(Self.actual(fixture) == fixture.expected, "\(fixture): frame \(Hex.dump(fixture.frame))")
    }

    @Test func everyReasonAndActionIsCovered() {
        let seen = Set(Fixtures.all.map(\.expected.reason))
        #expect(seen == Set(Reason.all), "missing: \(Set(Reason.all).subtracting(seen))")
        #expect(Set(Fixtures.all.map(\.expected.action)) == Set(Action.all))
        for direction in Direction.allCases {
            let reasons = Set(Fixtures.all.filter { $0.direction == direction }.map(\.expected.reason))
            let shared: Set<Reason> = [.ok, .exempt, .notIP, .unmanaged, .malformed, .foreignSource]
            #expect(shared.isSubset(of: reasons), "\(direction) lacks \(shared.subtracting(reasons))")
        }
    }

    @Test func theTableHasTheShapesTheIssueAsksFor() {
        let frames = Fixtures.all.filter { $0.frame.count >= 14 }.map(\.frame)
        func etherTypeAt(_ frame: [UInt8], _ offset: Int) -> UInt16? {
            frame.count >= offset + 2 ? UInt16(frame[offset]) << 8 | UInt16(frame[offset + 1]) : nil
        }
        let tagged = frames.filter { [0x8100, 0x88a8].contains(etherTypeAt($0, 12)) }
        let doubleTagged = tagged.filter { [0x8100, 0x88a8].contains(etherTypeAt($0, 16)) }
        #expect(tagged.count >= 8 && doubleTagged.count >= 5)
        #expect(frames.contains { etherTypeAt($0, 12) == 0x0806 })
        #expect(frames.contains { etherTypeAt($0, 12) == 0x86dd })
        #expect(Fixtures.all.count { $0.expected.reason == .malformed } > 200)
    }
}

enum Hex {
    static func dump(_ bytes: [UInt8]) -> String {
        bytes.map { String($0, radix: 16).count == 1 ? "0" + String($0, radix: 16) : String($0, radix: 16) }.joined()
    }
}
