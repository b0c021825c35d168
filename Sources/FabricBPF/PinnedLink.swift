internal import CBPFShim
internal import CLibBPF
import FabricSystem

#if canImport(Glibc)
import Glibc
#endif

/// A program attached through a BPF link pinned in bpffs: the pin is the
/// link's last reference, so the attachment outlives the process and ends
/// when the pin is removed (what libxdp does for XDP too).
public final class PinnedLink {
    public let path: String
    /// The device the link is attached to; 0 once the device is gone.
    public let ifindex: UInt32
    public let programID: UInt32
    private let fd: Int32

    private init(path: String, fd: Int32, ifindex: UInt32, programID: UInt32) {
        self.path = path
        self.fd = fd
        self.ifindex = ifindex
        self.programID = programID
    }

    deinit { close(fd) }

    /// The link pinned at `path`, or nil when there is no pin.
    public static func open(_ path: String) throws(SystemError) -> PinnedLink? {
        guard access(path, F_OK) == 0 else { return nil }
        let fd = try SystemError.check(bpf_obj_get(path), "open pinned link", path)
        var facts = fg_link_facts()
        let result = fg_link_facts(fd, &facts)
        guard result == 0 else {
            close(fd)
            throw SystemError(verb: "inspect pinned link", object: path, errno: -result)
        }
        return PinnedLink(path: path, fd: fd, ifindex: facts.ifindex, programID: facts.prog_id)
    }

    /// Swaps the link's program atomically: no moment without one.
    public func update(_ program: BPFProgram) throws(SystemError) {
        try SystemError.check(bpf_link_update(fd, program.fd, nil), "update link \(path) to", program.name)
    }

    /// Attaches `program` at the XDP hook of `ifindex` (in the driver, or in
    /// the generic skb path) through a new link, pinned at `path`.
    public static func attachXDP(_ program: BPFProgram, ifindex: UInt32, driverMode: Bool, pinAt path: String) throws(SystemError) {
        let flags = UInt32(driverMode ? XDP_FLAGS_DRV_MODE : XDP_FLAGS_SKB_MODE)
        let fd = try SystemError.checkNegated(
            fg_xdp_link_create(program.fd, Int32(ifindex), flags), "attach \(program.name) (XDP, \(driverMode ? "driver" : "generic")) to",
            "ifindex \(ifindex)")
        defer { close(fd) }
        try SystemError.check(bpf_obj_pin(fd, path), "pin XDP link at", path)
    }
}
