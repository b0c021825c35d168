import CFabricABI
import FabricSystem

#if canImport(Glibc)
import Glibc
#endif

/// The embedded object as the agent loads it: one instance owns the maps (created,
/// or adopted from the pins) and verifies nothing; then one instance per program,
/// sharing those maps, verifies its program, each on a thread of its own. The kernel
/// verifies programs of a loader with CAP_SYS_ADMIN concurrently (without it, one
/// at a time under its verifier lock), so with two CPUs the three programs take
/// about the time of two; with one CPU in the affinity mask they load one by one.
public final class ProgramSet: @unchecked Sendable {
    /// The maps' owner: `map` and `pinMaps` go through it.
    public let maps: BPFObject
    private let programs: [String: BPFObject]

    /// `check` sees the maps' owner opened, before anything reaches the kernel (the
    /// ABI check); every instance is opened from the same embedded bytes.
    public init(
        names: [String], adoptingPinsIn directory: String, check: (BPFObject) throws(SystemError) -> Void
    ) throws(SystemError) {
        maps = try BPFObject()
        try check(maps)
        try maps.reusePinnedMaps(in: directory)
        try maps.load(programs: [])
        programs = try Self.load(names, sharing: maps)
    }

    /// One instance per program, each opened, given `maps`' maps and verified on a
    /// thread of its own (the first on this one; all here with one CPU, or when no
    /// thread can be started). The first failure in `names` order is the one thrown.
    private static func load(_ names: [String], sharing maps: BPFObject) throws(SystemError) -> [String: BPFObject] {
        final class Outcome: @unchecked Sendable {
            // Written by its load, on its thread before the join that the reader waits
            // for; the placeholder is never read (every load has run by then).
            var result: Result<BPFObject, SystemError> = .failure(SystemError(verb: "load", object: "program", errno: EINTR))
        }
        let outcomes = names.map { _ in Outcome() }
        let parallel = JoinableThread.allowedCPUs > 1
        var threads: [JoinableThread] = []
        var here: [@Sendable () -> Void] = []
        for (index, name) in names.enumerated() {
            let outcome = outcomes[index]
            let load: @Sendable () -> Void = {
                outcome.result = Result { () throws(SystemError) -> BPFObject in
                    let object = try BPFObject()
                    try object.reuseMaps(of: maps)
                    try object.load(programs: [name])
                    return object
                }
            }
            if index > 0, parallel, let thread = try? JoinableThread(name: "fg-verify", load) {
                threads.append(thread)
            } else {
                here.append(load)
            }
        }
        here.forEach { $0() }
        threads.forEach { $0.join() }
        var programs: [String: BPFObject] = [:]
        for (name, outcome) in zip(names, outcomes) {
            programs[name] = try outcome.result.get()
        }
        return programs
    }

    public func map(_ name: String) throws(SystemError) -> BPFMap { try maps.map(name) }

    public func program(_ name: String) throws(SystemError) -> BPFProgram {
        guard let object = programs[name] else { throw SystemError(verb: "find program", object: name, errno: ENOENT) }
        return try object.program(name)
    }

    public func pinMaps(in directory: String) throws(SystemError) { try maps.pinMaps(in: directory) }
}
