internal import CBPFShim
import CFabricABI

#if canImport(Glibc)
import Glibc
import FabricSystem
#endif

/// The tc filter one fabricguard instance owns on an interface's clsact hook:
/// its handle and priority. Instances with different pin directories in one
/// network namespace each get their own, so that one never replaces, reports
/// or detaches the other's filter.
public struct TCFilter: Sendable, Equatable, CustomStringConvertible {
    public var handle: UInt32
    public var priority: UInt32

    public init(handle: UInt32, priority: UInt32) {
        self.handle = handle
        self.priority = priority
    }

    /// What the default pin directory has always used: existing installs adopt it.
    public static let standard = TCFilter(handle: UInt32(FG_TC_HANDLE), priority: UInt32(FG_TC_PRIORITY))

    /// The filter of the instance pinned at `pinDirectory`: the standard one
    /// for the default directory, else derived from the path (FNV-1a), so that
    /// it is the same in every process without being stored anywhere. The
    /// priority stays above 1 (the standard one) and below tc's automatic
    /// priorities (0xc000 and down), so it never takes another tool's.
    public static func forPinDirectory(_ pinDirectory: String) -> TCFilter {
        if pinDirectory == FG_PIN_DIR_DEFAULT { return .standard }
        var hash: UInt32 = 0x811c_9dc5
        for byte in pinDirectory.utf8 { hash = (hash ^ UInt32(byte)) &* 0x0100_0193 }
        return TCFilter(handle: hash == 0 ? 1 : hash, priority: 2 + (hash >> 8) % 0x3000)
    }

    public var description: String { "tc filter handle 0x\(String(handle, radix: 16)) priority \(priority)" }

    /// Attaches (or atomically replaces) `program` as this filter; true when
    /// the interface had no clsact qdisc and this call created it.
    @discardableResult
    public func attach(_ program: BPFProgram, ifindex: UInt32, egress: Bool) throws(SystemError) -> Bool {
        var created: Int32 = 0
        let result = fg_tc_attach(Int32(ifindex), egress ? 1 : 0, program.fd, handle, priority, &created)
        guard result == 0 else {
            throw SystemError(verb: "attach \(program.name) as \(self) to", object: "ifindex \(ifindex)", errno: -result)
        }
        return created != 0
    }

    /// Detaches this filter; already gone (or the interface with it) is not an error.
    public func detach(ifindex: UInt32, egress: Bool) throws(SystemError) {
        let result = fg_tc_detach(Int32(ifindex), egress ? 1 : 0, handle, priority)
        guard result == 0 || result == -ENOENT || result == -ENODEV || result == -EINVAL else {
            throw SystemError(verb: "detach \(self) from", object: "ifindex \(ifindex)", errno: -result)
        }
    }

    /// The program this filter runs, nil when the filter is not there.
    public func programID(ifindex: UInt32, egress: Bool) -> UInt32? {
        var programID: UInt32 = 0
        return fg_tc_query(Int32(ifindex), egress ? 1 : 0, handle, priority, &programID) == 0 ? programID : nil
    }

    /// Deletes the interface's clsact qdisc (with whatever hangs on it).
    public static func destroyClsact(ifindex: UInt32) throws(SystemError) {
        let result = fg_tc_destroy_clsact(Int32(ifindex))
        guard result == 0 || result == -ENOENT || result == -ENODEV || result == -EINVAL else {
            throw SystemError(verb: "delete the clsact qdisc of", object: "ifindex \(ifindex)", errno: -result)
        }
    }
}
