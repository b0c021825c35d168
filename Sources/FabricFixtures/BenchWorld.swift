import FabricCompiler
import FabricHost
import FabricPolicy
import FabricReference

/// The benchmark world: two fabrics (san-a on sana0, san-b on sanb0) owning
/// `count` prefixes per family between them (distinct random IPv4 /24s and
/// IPv6 /64s, so none overlap), and 4096 distinct frames per family leaving
/// sana0, alternately from a san-a host (pass) and a san-b host (violation).
public struct BenchWorld: Sendable {
    public static let distinctFrames = 4096

    public let plan: MapPlan
    /// The same policy as a policy file, for benchmarks of the command line.
    public let policyYAML: String
    public let framesV4: [[UInt8]]
    public let framesV6: [[UInt8]]

    public static let defaultHost = HostInventory(interfaces: [
        HostInterface(name: "sana0", index: 3, up: true, running: true, mac: nil, addresses: []),
        HostInterface(name: "sanb0", index: 4, up: true, running: true, mac: nil, addresses: []),
    ])

    public init(prefixes count: Int, seed: UInt64, host: HostInventory = BenchWorld.defaultHost) throws {
        var random = SplitMix64(seed: seed)
        var v4 = Set<UInt32>()
        while v4.count < count { v4.insert(UInt32(truncatingIfNeeded: random.next()) >> 8) }
        var v6 = Set<UInt64>()
        while v6.count < count { v6.insert(0xfd00_0000_0000_0000 | random.next() >> 8) }
        let prefixesV4 = v4.sorted().map { try! IPPrefix(address: .v4($0 << 8), length: 24) }
        let prefixesV6 = v6.sorted().map { try! IPPrefix(address: .v6(UInt128($0) << 64), length: 64) }

        // Even-indexed prefixes are san-a's, odd ones san-b's.
        func split(_ prefixes: [IPPrefix]) -> (a: [IPPrefix], b: [IPPrefix]) {
            (prefixes.enumerated().filter { $0.offset % 2 == 0 }.map(\.element),
             prefixes.enumerated().filter { $0.offset % 2 == 1 }.map(\.element))
        }
        let (a4, b4) = split(prefixesV4)
        let (a6, b6) = split(prefixesV6)
        let policy = Policy(fabrics: [
            Fabric(name: "san-a", interfaces: ["sana0"], prefixes: a4 + a6),
            Fabric(name: "san-b", interfaces: ["sanb0"], prefixes: b4 + b6),
        ])
        plan = try PolicyCompiler.compile(policy, host: host, options: CompileOptions(allowMissing: true)).plan
        func list(_ prefixes: [IPPrefix]) -> String { prefixes.map { "\"\($0)\"" }.joined(separator: ", ") }
        policyYAML = """
            version: 1
            fabrics:
              - name: san-a
                interfaces: [sana0]
                prefixes: [\(list(a4 + a6))]
              - name: san-b
                interfaces: [sanb0]
                prefixes: [\(list(b4 + b6))]

            """

        func member(of prefixes: [IPPrefix]) -> IPAddress {
            switch prefixes[Int(random.next() % UInt64(prefixes.count))].address {
            case .v4(let base): .v4(base | UInt32(truncatingIfNeeded: random.next()) & 0xff)
            case .v6(let base): .v6(base | UInt128(random.next()))
            }
        }
        var frames4: [[UInt8]] = []
        var frames6: [[UInt8]] = []
        for index in 0..<Self.distinctFrames {
            let own = index % 2 == 0
            frames4.append(FrameBuilder.udp4(source: member(of: own ? a4 : b4), destination: IPAddress("192.0.2.1")!))
            frames6.append(FrameBuilder.udp6(source: member(of: own ? a6 : b6), destination: IPAddress("2001:db8::1")!))
        }
        framesV4 = frames4
        framesV6 = frames6
    }

    public func frames(_ family: IPAddress.Family) -> [[UInt8]] { family == .ipv4 ? framesV4 : framesV6 }
}
