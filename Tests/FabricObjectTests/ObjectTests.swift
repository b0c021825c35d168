import CFabricABI
import FabricBPF
import FabricSystem
import Foundation
import Testing

/// The object/ABI tier: needs no privileges. The embedded object is the one
/// the sources build, declares every map and program the ABI header names,
/// and lays out every shared struct exactly as Swift imports it.
@Suite("Object tier: the embedded BPF object matches the ABI")
struct ObjectTests {
    static let packageRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()

    @Test(arguments: [("fabricguard.bpf.o", EmbeddedObject.fabricguard), ("empty.bpf.o", EmbeddedObject.empty)])
    func theEmbeddedObjectIsTheBuiltOne(_ name: String, _ embedded: [UInt8]) throws {
        // scripts/test runs scripts/build-bpf first: bpf/*.bpf.o is what the sources give now.
        let built = Self.packageRoot.appendingPathComponent("bpf/\(name)")
        let bytes = try #require(
            FileManager.default.contents(atPath: built.path), "run scripts/build-bpf first (no \(built.path))")
        #expect(Array(bytes) == embedded, "Sources/FabricBPF/Objects/\(name) is stale: run scripts/build-bpf and commit it")
    }

    @Test func everyMapOfTheABIWithItsLayout() throws {
        let object = try BPFObject()
        let declared = Dictionary(uniqueKeysWithValues: object.declaredMapShapes.map { ($0.name, $0) })
        #expect(Set(declared.keys) == Set(ABIMaps.all.map(\.name)))
        for spec in ABIMaps.all where spec.name != FG_MAP_EVENTS {
            let map = try #require(declared[spec.name], "map \(spec.name) missing from the object")
            #expect(map.keySize == spec.keySize, "\(spec.name) key")
            #expect(map.valueSize == spec.valueSize, "\(spec.name) value")
        }
        #expect(declared[FG_MAP_PREFIXES]?.maxEntries == Int(FG_BANKS))  // one bucket array per bank
        // The bucket arrays the agent creates have the shape the programs were verified
        // against: the BPF compiler's sizeof of the bucket, Swift's layout of the same.
        guard case .map(let inner) = declared[FG_MAP_PREFIXES]?.inner else {
            Issue.record("\(FG_MAP_PREFIXES) declares no inner map")
            return
        }
        #expect(inner.type == ABIMaps.bucketType)
        #expect(inner.keySize == ABIMaps.buckets.keySize && inner.valueSize == ABIMaps.buckets.valueSize, "\(inner)")
        #expect(inner.flags == ABIMaps.bucketFlags)
        // Every possible CPU's copy of every cell, sized when the object is opened.
        #expect(declared[FG_MAP_COUNTERS]?.maxEntries == Int(FG_COUNTER_ENTRIES) * BPFObject.possibleCPUs)
    }

    @Test func everyProgramOfTheABI() throws {
        #expect(Set(try BPFObject().programNames) == Set(ABIMaps.programs))
    }

    @Test(arguments: [
        // fg_prefix_bucket: the inner map's value size is checked above instead
        // (clang keeps it out of BTF: it is reached only through sizeof).
        ("fg_prefix_tables", MemoryLayout<fg_prefix_tables>.size),
        ("fg_prefix_table", MemoryLayout<fg_prefix_table>.size),
        ("fg_dir_config", MemoryLayout<fg_dir_config>.size),
        ("fg_interface_key", MemoryLayout<fg_interface_key>.size),
        ("fg_interface_value", MemoryLayout<fg_interface_value>.size),
        ("fg_fast_source", MemoryLayout<fg_fast_source>.size),
        ("fg_local_value", MemoryLayout<fg_local_value>.size),
        ("fg_fabric_value", MemoryLayout<fg_fabric_value>.size),
        ("fg_state", MemoryLayout<fg_state>.size),
        ("fg_counter_value", MemoryLayout<fg_counter_value>.size),
        ("fg_event", MemoryLayout<fg_event>.size),
        ("fg_event_bucket", MemoryLayout<fg_event_bucket>.size),
        ("fg_event_tally", MemoryLayout<fg_event_tally>.size),
        ("fg_settings", MemoryLayout<fg_settings>.size),
        ("fg_agent_meta", MemoryLayout<fg_agent_meta>.size),
        ("fg_verdict", MemoryLayout<fg_verdict>.size),
        ("fg_source_memo", MemoryLayout<fg_source_memo>.size),
    ])
    func btfStructSizesEqualSwiftLayout(_ name: String, _ swiftSize: Int) throws {
        #expect(try BPFObject().btfStructSize(name) == swiftSize)
    }

    @Test func theObjectCarriesItsABIVersion() throws {
        #expect(try BPFObject().constant(FG_RODATA_ABI_VERSION) == UInt32(FG_ABI_VERSION))
        #expect(try BPFObject().constant(FG_RODATA_RECORD_VERDICTS) == 0)
    }

    /// The shorter paths (globals.h, fg_perfmon) are asked for exactly when the verifier
    /// will allow them: CAP_PERFMON or CAP_SYS_ADMIN in the effective set. The kernel
    /// tier's least-privilege test loads the object without either, and enforces.
    @Test func theLoaderAsksForTheShorterPathsOnlyWithPerfmon() throws {
        #expect(try BPFObject().constant(FG_RODATA_PERFMON) == (Capability.perfmonCapable ? 1 : 0))
    }
}
