internal import CBPFShim
import CFabricABI
internal import CLibBPF

#if canImport(Glibc)
import Glibc
import FabricSystem
#endif

/// A BPF object opened from bytes (the embedded fabricguard.bpf.o), loaded
/// once, then a source of map and program handles. Closing it (deinit)
/// releases every fd it holds; pinned maps and attached programs live on.
public final class BPFObject: @unchecked Sendable {
    private let handle: OpaquePointer
    /// libelf reads the object in place until load: the bytes must outlive it.
    private let bytes: UnsafeMutableRawBufferPointer
    public let name: String
    public private(set) var isLoaded = false

    public init(bytes source: [UInt8], name: String = "fabricguard") throws(SystemError) {
        bytes = UnsafeMutableRawBufferPointer.allocate(byteCount: source.count, alignment: 16)
        bytes.copyBytes(from: source)
        self.name = name
        guard let handle = fg_object_open_mem(bytes.baseAddress, bytes.count, name) else {
            let code = errno
            bytes.deallocate()
            throw SystemError(verb: "open BPF object", object: name, errno: code)
        }
        self.handle = handle
        // fg_counters holds every possible CPU's counters (fabricguard_abi.h): sized
        // here, before any pinned map is matched against it.
        if let counters = bpf_object__find_map_by_name(handle, FG_MAP_COUNTERS) {
            bpf_map__set_max_entries(counters, fg_counter_key(UInt32(Self.possibleCPUs), 0))
        }
        // The programs' shorter paths where the verifier will allow them (globals.h,
        // fg_perfmon); an object without the constant (the empty one) has none.
        if Capability.perfmonCapable, (try? constant(FG_RODATA_PERFMON)) != nil {
            try setConstant(FG_RODATA_PERFMON, 1)
        }
    }

    /// The CPUs the kernel may ever run a program on (what per-CPU data is sized for).
    public static var possibleCPUs: Int { Int(libbpf_num_possible_cpus()) }

    /// The object this binary embeds.
    public convenience init() throws(SystemError) {
        try self.init(bytes: EmbeddedObject.fabricguard)
    }

    deinit {
        bpf_object__close(handle)
        bytes.deallocate()
    }

    // MARK: Load-time constants

    /// A `const volatile __u32` global of .rodata, as compiled or as set.
    public func constant(_ variable: String) throws(SystemError) -> UInt32 {
        let (data, offset) = try rodataSlot(variable)
        return data.load(fromByteOffset: offset, as: UInt32.self)
    }

    /// Sets a `const volatile __u32` global before load (the verifier then
    /// treats it as a constant and prunes what it disables).
    public func setConstant(_ variable: String, _ value: UInt32) throws(SystemError) {
        guard !isLoaded else { throw SystemError(verb: "set constant", object: variable, errno: EBUSY) }
        let (data, offset) = try rodataSlot(variable)
        data.storeBytes(of: value, toByteOffset: offset, as: UInt32.self)
    }

    private func rodataSlot(_ variable: String) throws(SystemError) -> (UnsafeMutableRawPointer, Int) {
        var map = bpf_object__next_map(handle, nil)
        while let current = map {
            if String(cString: bpf_map__name(current)).hasSuffix(".rodata") {
                var size = 0
                let offset = fg_rodata_offset(handle, variable)
                guard offset >= 0 else { throw SystemError(verb: "find constant", object: variable, errno: Int32(-offset)) }
                guard let data = bpf_map__initial_value(current, &size), Int(offset) + 4 <= size else {
                    throw SystemError(verb: "read constant", object: variable, errno: ENOENT)
                }
                return (UnsafeMutableRawPointer(mutating: data), Int(offset))
            }
            map = bpf_object__next_map(handle, current)
        }
        throw SystemError(verb: "find .rodata of", object: name, errno: ENOENT)
    }

    // MARK: Maps shared across loads

    /// Makes every map with a pin under `directory` reuse it instead of being
    /// created, after checking it has the shape this object declares: a pin
    /// left by an incompatible build is reported, never silently reused.
    /// Returns the names of the adopted maps.
    @discardableResult
    public func reusePinnedMaps(in directory: String) throws(SystemError) -> [String] {
        var adopted: [String] = []
        for map in declaredMaps() {
            let mapName = String(cString: bpf_map__name(map))
            let path = "\(directory)/\(mapName)"
            guard access(path, F_OK) == 0 else { continue }
            let pinned = try BPFMap.pinned(at: path, name: mapName)
            let wanted = BPFMap.Facts(
                type: bpf_map__type(map).rawValue, keySize: Int(bpf_map__key_size(map)),
                valueSize: Int(bpf_map__value_size(map)), maxEntries: Int(bpf_map__max_entries(map)),
                flags: bpf_map__map_flags(map), id: pinned.facts.id)
            guard pinned.facts == wanted else {
                throw SystemError(
                    verb: "adopt pinned map", object: path, errno: 0,
                    detail: "it was made by an incompatible fabricguard (\(pinned.facts) vs \(wanted)); run `fabricguard unload` first")
            }
            try SystemError.checkNegated(bpf_map__reuse_fd(map, pinned.fd), "reuse pinned map", path)
            adopted.append(mapName)
        }
        return adopted
    }

    /// Makes every declared map use `owner`'s (created by its load, or adopted from a
    /// pin) instead of one of its own: objects opened from the same bytes then share
    /// their maps, and each may load a different program (`load(programs:)`).
    public func reuseMaps(of owner: BPFObject) throws(SystemError) {
        for map in declaredMaps() {
            let mapName = String(cString: bpf_map__name(map))
            let fd = try owner.map(mapName).fd
            try SystemError.checkNegated(bpf_map__reuse_fd(map, fd), "reuse map", mapName)
        }
    }

    /// Pins every declared map under `directory` that is not pinned there yet.
    public func pinMaps(in directory: String) throws(SystemError) {
        for map in declaredMaps() {
            let path = "\(directory)/\(String(cString: bpf_map__name(map)))"
            if access(path, F_OK) == 0 { continue }
            try SystemError.checkNegated(bpf_map__pin(map, path), "pin map at", path)
        }
    }

    /// The maps of the ABI (not libbpf's internal .rodata / .bss maps).
    private func declaredMaps() -> [OpaquePointer] {
        var maps: [OpaquePointer] = []
        var map = bpf_object__next_map(handle, nil)
        while let current = map {
            if !String(cString: bpf_map__name(current)).contains(".") { maps.append(current) }
            map = bpf_object__next_map(handle, current)
        }
        return maps
    }

    // MARK: What the object declares (no privileges needed)

    public struct DeclaredMap: Sendable, Equatable {
        public var name: String
        public var type: UInt32
        public var keySize: Int
        public var valueSize: Int
        public var maxEntries: Int
        public var flags: UInt32
        /// For an array of maps: the shape its inner maps must have.
        public indirect enum Inner: Sendable, Equatable { case none, map(DeclaredMap) }
        public var inner: Inner = .none
    }

    public var declaredMapShapes: [DeclaredMap] {
        func shape(_ map: OpaquePointer) -> DeclaredMap {
            DeclaredMap(
                name: String(cString: bpf_map__name(map)), type: bpf_map__type(map).rawValue,
                keySize: Int(bpf_map__key_size(map)), valueSize: Int(bpf_map__value_size(map)),
                maxEntries: Int(bpf_map__max_entries(map)), flags: bpf_map__map_flags(map), inner: bpf_map__inner_map(map).map { .map(shape($0)) } ?? .none)
        }
        return declaredMaps().map(shape)
    }

    public var programNames: [String] {
        var names: [String] = []
        var program = bpf_object__next_program(handle, nil)
        while let current = program {
            names.append(String(cString: bpf_program__name(current)))
            program = bpf_object__next_program(handle, current)
        }
        return names
    }

    /// The size of `struct name` as the BPF compiler laid it out (from BTF).
    public func btfStructSize(_ structName: String) throws(SystemError) -> Int {
        let size = fg_btf_struct_size(handle, structName)
        guard size >= 0 else { throw SystemError(verb: "find BTF struct", object: structName, errno: Int32(-size)) }
        return size
    }

    // MARK: Load

    /// Loads every program through the verifier; libbpf's log explains a rejection.
    public func load() throws(SystemError) {
        try SystemError.checkNegated(bpf_object__load(handle), "load BPF object", name)
        isLoaded = true
    }

    /// Loads the programs named in `programs` only; the others stay unloaded. With
    /// none, the load creates the maps (those not reused) and verifies nothing.
    public func load(programs: Set<String>) throws(SystemError) {
        var program = bpf_object__next_program(handle, nil)
        while let current = program {
            bpf_program__set_autoload(current, programs.contains(String(cString: bpf_program__name(current))))
            program = bpf_object__next_program(handle, current)
        }
        try load()
    }

    public func map(_ mapName: String) throws(SystemError) -> BPFMap {
        let map = try SystemError.check(bpf_object__find_map_by_name(handle, mapName), "find map", mapName)
        let fd = bpf_map__fd(map)
        guard fd >= 0 else { throw SystemError(verb: "use map", object: mapName, errno: EBADF, detail: "the object is not loaded") }
        return try BPFMap(name: mapName, fd: fd, ownsDescriptor: false)
    }

    public func program(_ programName: String) throws(SystemError) -> BPFProgram {
        let program = try SystemError.check(
            bpf_object__find_program_by_name(handle, programName), "find program", programName)
        let fd = bpf_program__fd(program)
        guard fd >= 0 else { throw SystemError(verb: "use program", object: programName, errno: EBADF, detail: "the object is not loaded") }
        return BPFProgram(name: programName, fd: fd)
    }
}

/// A loaded program's fd (owned by its `BPFObject`).
public struct BPFProgram: Sendable {
    public let name: String
    public let fd: Int32

    public struct TestRun: Sendable, Equatable {
        public var returnValue: UInt32
        public var durationNanoseconds: UInt32
    }

    /// Runs the program once (or `repeat` times) on `frame` through BPF_PROG_TEST_RUN,
    /// as if it arrived on or left `ifindex` (which must exist in this network namespace).
    public func testRun(frame: [UInt8], ifindex: UInt32, xdp: Bool, repeat: UInt32 = 1) throws(SystemError) -> TestRun {
        var result: UInt32 = 0
        var duration: UInt32 = 0
        let code = frame.withUnsafeBytes { bytes in
            fg_prog_test_run(fd, xdp ? 1 : 0, bytes.baseAddress, UInt32(bytes.count), ifindex, `repeat`, &result, &duration)
        }
        try SystemError.checkNegated(code, "test-run program", name)
        return TestRun(returnValue: result, durationNanoseconds: duration)
    }
}

extension BPFProgram {
    /// The name of the loaded program with this id (any program on the system,
    /// e.g. another tool's on a tcx hook), nil when it is gone.
    public static func name(id: UInt32) -> String? {
        var facts = fg_prog_facts()
        guard fg_prog_facts_by_id(id, &facts) == 0 else { return nil }
        return withUnsafeBytes(of: facts.name) { bytes in
            String(decoding: bytes.prefix { $0 != 0 }, as: UTF8.self)
        }
    }
}
