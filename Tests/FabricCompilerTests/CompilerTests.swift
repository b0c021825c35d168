import FabricCompiler
import FabricFixtures
import FabricHost
import FabricPolicy
import Foundation
import Testing

@Suite("Policy compiler")
struct CompilerTests {
    static func compileTwoFabric() throws -> Compilation {
        try PolicyCompiler.compile(PolicyLoader.parse(yaml: TwoFabricWorld.policyYAML, file: "two.yaml"), host: TwoFabricWorld.host)
    }

    /// The golden plan, as JSON. A change here is a change to what the kernel holds:
    /// review it as such.
    static let goldenPlan = """
        {
          "events" : {
            "burst" : 200,
            "rate" : 100
          },
          "fabrics" : [
            {
              "id" : 1,
              "name" : "san-a",
              "redirect_ifindex" : 3,
              "redirect_interface" : "ens1f0"
            },
            {
              "id" : 2,
              "name" : "san-b",
              "redirect_ifindex" : 4,
              "redirect_interface" : "ens1f1"
            }
          ],
          "interfaces" : [
            {
              "counter_slot" : 0,
              "egress" : {
                "action" : "drop",
                "checks" : [

                ],
                "mode" : "enforce",
                "unowned" : "pass"
              },
              "fabric" : "san-a",
              "fabric_id" : 1,
              "fast_sources" : [
                {
                  "address" : "10.1.0.5",
                  "reason" : "ok"
                },
                {
                  "address" : "fd00:a::5",
                  "reason" : "ok"
                },
                {
                  "address" : "fe80::3",
                  "reason" : "exempt"
                }
              ],
              "ifindex" : 3,
              "ingress" : {
                "action" : "drop",
                "checks" : [
                  "source",
                  "destination"
                ],
                "mode" : "enforce",
                "unowned" : "pass"
              },
              "name" : "ens1f0"
            },
            {
              "counter_slot" : 1,
              "egress" : {
                "action" : "redirect",
                "checks" : [

                ],
                "mode" : "enforce",
                "unowned" : "pass"
              },
              "fabric" : "san-b",
              "fabric_id" : 2,
              "fast_sources" : [
                {
                  "address" : "10.2.0.5",
                  "reason" : "ok"
                },
                {
                  "address" : "fd00:b::5",
                  "reason" : "ok"
                },
                {
                  "address" : "fe80::3",
                  "reason" : "exempt"
                }
              ],
              "ifindex" : 4,
              "ingress" : {
                "action" : "drop",
                "checks" : [
                  "source",
                  "destination"
                ],
                "mode" : "enforce",
                "unowned" : "pass"
              },
              "name" : "ens1f1"
            }
          ],
          "locals" : [
            {
              "address" : "10.1.0.5",
              "fabric_id" : 1,
              "interface" : "ens1f0",
              "redirect_ifindex" : 3
            },
            {
              "address" : "10.2.0.5",
              "fabric_id" : 2,
              "interface" : "ens1f1",
              "redirect_ifindex" : 4
            },
            {
              "address" : "fd00:a::5",
              "fabric_id" : 1,
              "interface" : "ens1f0",
              "redirect_ifindex" : 3
            },
            {
              "address" : "fd00:b::5",
              "fabric_id" : 2,
              "interface" : "ens1f1",
              "redirect_ifindex" : 4
            }
          ],
          "prefixes" : [
            {
              "exempt" : true,
              "fabric_id" : 0,
              "prefix" : "0.0.0.0/32"
            },
            {
              "exempt" : false,
              "fabric_id" : 1,
              "prefix" : "10.1.0.0/24"
            },
            {
              "exempt" : false,
              "fabric_id" : 2,
              "prefix" : "10.2.0.0/24"
            },
            {
              "exempt" : true,
              "fabric_id" : 0,
              "prefix" : "::/128"
            },
            {
              "exempt" : false,
              "fabric_id" : 1,
              "prefix" : "fd00:a::/64"
            },
            {
              "exempt" : false,
              "fabric_id" : 2,
              "prefix" : "fd00:b::/64"
            },
            {
              "exempt" : true,
              "fabric_id" : 0,
              "prefix" : "fe80::/10"
            }
          ]
        }
        """

    /// The digest covers the ABI version and the small maps' entries too: it changes with
    /// FG_ABI_VERSION (7 since fg_interfaces is found by ifindex, its entries keyed so) and
    /// with nothing else but the plan.
    static let goldenDigest = "sha256:90d8ad8a9b37649e28002c731efa9fa091407c380d7bbacb939653f0ac13b86f"

    static func json(_ plan: MapPlan) throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        encoder.keyEncodingStrategy = .convertToSnakeCase
        return String(decoding: try encoder.encode(plan), as: UTF8.self)
    }

    @Test func goldenTwoFabricDualStackPlan() throws {
        let compilation = try Self.compileTwoFabric()
        #expect(try Self.json(compilation.plan) == Self.goldenPlan)
        #expect(compilation.plan.digestText == Self.goldenDigest)
        #expect(compilation.warnings.isEmpty)
    }

    @Test func sameInputSameBytes() throws {
        let first = try Self.compileTwoFabric()
        for _ in 0..<5 {
            let again = try Self.compileTwoFabric()
            #expect(again == first)
            #expect(again.plan.entries(bank: 1) == first.plan.entries(bank: 1))
            #expect(again.plan.digest == first.plan.digest)
        }
        // Host interface order and address order do not leak into the plan.
        var shuffled = TwoFabricWorld.host
        shuffled.interfaces.reverse()
        for index in shuffled.interfaces.indices { shuffled.interfaces[index].addresses.reverse() }
        let policy = try PolicyLoader.parse(yaml: TwoFabricWorld.policyYAML, file: "two.yaml")
        #expect(try PolicyCompiler.compile(policy, host: shuffled).plan.digest == first.plan.digest)
    }

    @Test func theDigestFollowsTheBytes() throws {
        let base = try Self.compileTwoFabric().plan
        let yaml = TwoFabricWorld.policyYAML.replacingOccurrences(of: "egress: { action: redirect }", with: "egress: { action: drop }")
        let changed = try PolicyCompiler.compile(PolicyLoader.parse(yaml: yaml), host: TwoFabricWorld.host).plan
        #expect(changed.digest != base.digest)
    }

    @Test func entriesUseTheABILayout() throws {
        let plan = try Self.compileTwoFabric().plan
        let entries = plan.entries(bank: 1)
        // One fg_prefix_tables entry per table set at bank * 3 + set, and the bucket array under the bank.
        let tables = entries.filter { $0.map == "fg_prefix_tables" }
        #expect(tables.map(\.key) == [[3, 0, 0, 0], [4, 0, 0, 0], [5, 0, 0, 0]])
        let buckets = try #require(entries.first { $0.map == "fg_prefixes" })
        #expect(buckets.key == [1, 0, 0, 0])
        #expect(buckets.value == PrefixBuckets(plan.prefixes, locals: plan.locals).bytes)
        // 10.1.0.0/24 owned by fabric 1: its slot holds ::ffff:10.1.0.0 and the used bit with fabric 1.
        let wanted: [UInt8] = [UInt8](repeating: 0, count: 10) + [0xff, 0xff, 10, 1, 0, 0]
        let slotOffsets: [Int] = stride(from: 0, to: buckets.value.count, by: 64).flatMap { bucket in (0..<3).map { bucket + $0 * 16 } }
        let slot = try #require(slotOffsets.first { Array(buckets.value[$0..<$0 + 16]) == wanted })
        let valueOffset = slot / 64 * 64 + 48 + (slot % 64) / 16 * 4
        #expect(Array(buckets.value[valueOffset..<valueOffset + 4]) == [1, 0, 0, 0x80])
        // 10.2.0.5, owned by fabric 2 and held by ifindex 4: its local table value names its fg_locals index.
        let position = try #require(plan.locals.firstIndex { $0.address == IPAddress("10.2.0.5") })
        let found = PrefixBuckets(plan.prefixes, locals: plan.locals).localValue(for: IPAddress("10.2.0.5")!)
        #expect(found == 0x8000_0000 | UInt32(position) << 8 | 2)
        let local = try #require(entries.first { $0.map == "fg_locals" && $0.key == withUnsafeBytes(of: UInt32(4096 + position)) { Array($0) } })
        #expect(local.value == [2, 0, 0, 0, 4, 0, 0, 0])
        let fabric = try #require(entries.first { $0.map == "fg_fabrics" && $0.value == [4, 0, 0, 0, 0, 0, 0, 0] })
        #expect(fabric.key == [66, 0, 0, 0])  // bank 1 * 64 fabrics + id 2
        #expect(Set(entries.map(\.map)) == ["fg_interfaces", "fg_fabrics", "fg_locals", "fg_settings", "fg_prefix_tables", "fg_prefixes"])
        // The event budget as the programs keep it: 100/s is one event per 10 ms, a burst of 200 is 199 intervals ahead.
        let settings = try #require(entries.first { $0.map == "fg_settings" })
        #expect(settings.key == withUnsafeBytes(of: UInt32(1)) { Array($0) })
        #expect(settings.value == withUnsafeBytes(of: (UInt64(10_000_000), UInt64(1_990_000_000))) { Array($0) })
        // The ifindex finds the settings in bank 1's half of fg_interfaces: fabric (never 0), then counter slot.
        for interface in plan.interfaces {
            let index = 4352 + interface.ifindex  // bank 1 * (4096 direct ifindexes + 256 far slots)
            let direct = try #require(entries.first { $0.map == "fg_interfaces" && $0.key == withUnsafeBytes(of: index) { Array($0) } })
            #expect(Array(direct.value.prefix(8)) == withUnsafeBytes(of: (interface.fabricID, interface.counterSlot)) { Array($0) })
            #expect(interface.fabricID != 0)
        }
        #expect(entries.count { $0.map == "fg_interfaces" } == plan.interfaces.count)
    }

    @Test func interfacesWithLargeIfindexesAreHashed() throws {
        var host = TwoFabricWorld.host
        let large = try #require(host.interfaces.firstIndex { $0.name == "ens1f1" })
        host.interfaces[large].index = 70_000
        let plan = try PolicyCompiler.compile(PolicyLoader.parse(yaml: TwoFabricWorld.policyYAML), host: host).plan
        let entries = plan.entries(bank: 1)
        let slot = try #require(plan.interface(named: "ens1f1")).counterSlot
        let far = entries.filter { $0.map == "fg_interfaces_far" }
        #expect(far.map(\.key) == [withUnsafeBytes(of: (UInt32(1), UInt32(70_000))) { Array($0) }])
        #expect(far.map(\.value) == [withUnsafeBytes(of: slot) { Array($0) }])
        // Its entry sits past the direct ifindexes, at its slot.
        let index = 4352 + 4096 + slot
        #expect(entries.contains { $0.map == "fg_interfaces" && $0.key == withUnsafeBytes(of: index) { Array($0) } })
        #expect(entries.count { $0.map == "fg_interfaces" } == plan.interfaces.count)
    }

    @Test func ingressOnlyInterfacesListTheirOwnAddressesToo() throws {
        // Egress off on san-a: its programs still answer an arriving packet for
        // 10.1.0.5 from the interface's list (ok: a local of its own fabric).
        let yaml = TwoFabricWorld.policyYAML.replacingOccurrences(
            of: "prefixes: [10.1.0.0/24, \"fd00:a::/64\"]",
            with: "prefixes: [10.1.0.0/24, \"fd00:a::/64\"]\n    egress: { mode: off }")
        let plan = try PolicyCompiler.compile(PolicyLoader.parse(yaml: yaml), host: TwoFabricWorld.host).plan
        let entry = try #require(plan.interface(named: "ens1f0"))
        #expect(entry.egress.mode == .off)
        #expect(entry.fastSources.contains(FastSource(address: IPAddress("10.1.0.5")!, reason: .ok)), "\(entry.fastSources)")
        // The other fabric's local address is not listed: it takes the local lookup (and is a violation).
        #expect(!entry.fastSources.contains { $0.address == IPAddress("10.2.0.5")! })
    }

    @Test func mergedPrefixesCarryOwnerAndExemption() throws {
        let policy = try PolicyLoader.parse(yaml: """
            version: 1
            fabrics:
              - { name: a, interfaces: [e0], prefixes: [10.0.0.0/8, 10.5.5.0/24] }
              - { name: b, interfaces: [e1], prefixes: [172.16.0.0/12] }
            exempt: [10.1.0.0/16, 10.1.2.3/32, 192.168.0.0/16, 172.16.0.0/12]
            """)
        let host = HostInventory(interfaces: [
            HostInterface(name: "e0", index: 2, up: true, running: true, mac: nil, addresses: []),
            HostInterface(name: "e1", index: 3, up: true, running: true, mac: nil, addresses: []),
        ])
        let prefixes = try PolicyCompiler.compile(policy, host: host).plan.prefixes
        #expect(prefixes.map { "\($0.prefix) \($0.fabricID) \($0.exempt)" } == [
            "10.0.0.0/8 1 false", "10.1.0.0/16 1 true", "10.1.2.3/32 1 true", "10.5.5.0/24 1 false",
            "172.16.0.0/12 2 true", "192.168.0.0/16 0 true",
        ])
    }

    @Test func warningsForTheFixtureHost() throws {
        let compilation = try PolicyCompiler.compile(FixtureWorld.policy(), host: FixtureWorld.host)
        #expect(compilation.warnings.map(\.description) == [
            "fixture-policy.yaml:17:18: fabrics[3].interfaces[0]: interface 'sand0' of fabric 'san-d' is down"
        ])
        let sand = try #require(compilation.plan.locals.first { $0.address == IPAddress("10.4.0.10") })
        #expect(sand.redirectIfindex == 0)
        #expect(compilation.plan.fabric(id: 4)?.redirectIfindex == 0)
        #expect(compilation.plan.interface(named: "mgmt0") == nil)
    }

    @Test func addressesOnTheWrongFabricAreWarned() throws {
        var host = TwoFabricWorld.host
        host.interfaces[2].addresses.append(HostAddress(IPAddress("10.2.0.99")!, prefixLength: 24))
        host.interfaces[3].addresses.append(HostAddress(IPAddress("10.9.0.1")!, prefixLength: 24))
        let compilation = try PolicyCompiler.compile(PolicyLoader.parse(yaml: TwoFabricWorld.policyYAML, file: "two.yaml"), host: host)
        #expect(compilation.warnings.map(\.description) == [
            "two.yaml:4:18: fabrics[0].interfaces[0]: address 10.2.0.99 on 'ens1f0' (fabric 'san-a') is owned by fabric 'san-b'",
            "two.yaml:7:18: fabrics[1].interfaces[0]: address 10.9.0.1 on 'ens1f1' (fabric 'san-b') is owned by no fabric; its traffic counts as unowned_source",
        ])
        // The SAN-B address held by a SAN-A NIC redirects to SAN-B's own NIC.
        let misplaced = try #require(compilation.plan.locals.first { $0.address == IPAddress("10.2.0.99") })
        #expect(misplaced.fabricID == 2 && misplaced.redirectIfindex == 4)
    }

    @Test func unknownInterfacesAreErrorsUnlessAllowed() throws {
        var host = TwoFabricWorld.host
        host.interfaces.removeAll { $0.name == "ens1f1" }
        let policy = try PolicyLoader.parse(yaml: TwoFabricWorld.policyYAML, file: "two.yaml")
        #expect(throws: PolicyError.self) { try PolicyCompiler.compile(policy, host: host) }
        do {
            _ = try PolicyCompiler.compile(policy, host: host)
        } catch {
            #expect(error.diagnostics.map(\.description) == [
                "two.yaml:7:18: fabrics[1].interfaces[0]: interface 'ens1f1' is not on this host (see `fabricguard inventory`; --allow-missing accepts it)"
            ])
        }
        let allowed = try PolicyCompiler.compile(policy, host: host, options: CompileOptions(allowMissing: true))
        #expect(allowed.plan.interfaces.map(\.name) == ["ens1f0"])
        #expect(allowed.plan.fabric(id: 2)?.redirectIfindex == 0)
    }
}

@Suite("Counter slots")
struct CounterSlotTests {
    @Test func slotsSurviveReordersAndNewInterfacesTakeFreshOnes() throws {
        let policy = try PolicyLoader.parse(yaml: TwoFabricWorld.policyYAML, file: "two.yaml")
        let first = try PolicyCompiler.compile(policy, host: TwoFabricWorld.host).plan
        #expect(first.interfaces.map(\.counterSlot) == [0, 1])
        // ens1f0 once had slot 7 and some removed interface slot 0: both stay reserved.
        let again = try PolicyCompiler.compile(
            policy, host: TwoFabricWorld.host, options: CompileOptions(counterSlots: ["ens1f0": 7, "gone0": 0]))
        #expect(again.plan.interface(named: "ens1f0")?.counterSlot == 7)
        #expect(again.plan.interface(named: "ens1f1")?.counterSlot == 1)
    }
}
