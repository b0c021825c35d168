internal import CBPFShim
internal import CLibBPF
import FabricSystem

#if canImport(Glibc)
import Glibc
#endif

/// A program attached through a BPF link pinned in bpffs: the pin is the
/// link's last reference, so the attachment outlives the process and ends
/// when the pin is removed (what libxdp does for XDP too). XDP links and tcx
/// links (the tc hooks, kernel 6.6+) are both kept this way.
public final class PinnedLink {
    public let path: String
    /// The link's own id (tcx lists it next to the program, in run order).
    public let id: UInt32
    /// The device the link is attached to; 0 once the device is gone or the link was detached.
    public let ifindex: UInt32
    public let programID: UInt32
    /// A tcx link; `egress` says which hook.
    public let isTCX: Bool
    public let egress: Bool
    private let fd: Int32

    private init(path: String, fd: Int32, facts: fg_link_facts) {
        self.path = path
        self.fd = fd
        id = facts.id
        ifindex = facts.ifindex
        programID = facts.prog_id
        isTCX = facts.tcx != 0
        egress = facts.egress != 0
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
        return PinnedLink(path: path, fd: fd, facts: facts)
    }

    /// Swaps the link's program atomically: no moment without one (a tcx link
    /// keeps its place among the hook's programs).
    public func update(_ program: BPFProgram) throws(SystemError) {
        try SystemError.check(bpf_link_update(fd, program.fd, nil), "update link \(path) to", program.name)
    }

    /// Detaches the link now, whoever else holds a reference to it (a pin
    /// removed while another process has the link open would otherwise keep
    /// the program attached until that process lets go), then removes the pin.
    /// Already detached, or no pin, is not an error.
    public static func remove(_ path: String) throws(SystemError) {
        if let link = try open(path) {
            let result = bpf_link_detach(link.fd)
            // EINVAL/ENOLINK: the device went away and took the attachment with it.
            guard result == 0 || [EINVAL, ENOLINK, ENOENT].contains(SystemError.lastErrno) else {
                throw SystemError(verb: "detach link", object: path, errno: SystemError.lastErrno)
            }
        }
        if unlink(path) != 0, SystemError.lastErrno != ENOENT {
            throw SystemError(verb: "unpin link", object: path, errno: SystemError.lastErrno)
        }
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

    /// Attaches `program` to the tcx egress (or ingress) hook of `ifindex`
    /// through a new link, first or last among the hook's programs, pinned at
    /// `path`. A link already pinned there is replaced without a gap: the new
    /// one is attached and pinned beside it, renamed over it, and only then is
    /// the old one detached (for that moment both run; they are the same
    /// decision over the same maps).
    public static func attachTCX(_ program: BPFProgram, ifindex: UInt32, egress: Bool, last: Bool, pinAt path: String) throws(SystemError) {
        let fd = try SystemError.checkNegated(
            fg_tcx_link_create(program.fd, Int32(ifindex), egress ? 1 : 0, last ? 1 : 0),
            "attach \(program.name) (tcx \(egress ? "egress" : "ingress"), \(last ? "last" : "first")) to", "ifindex \(ifindex)")
        defer { close(fd) }
        let old = try open(path)
        // bpffs refuses dots in names (EPERM).
        let staging = "\(path)-new"
        unlink(staging)
        try SystemError.check(bpf_obj_pin(fd, staging), "pin tcx link at", staging)
        guard rename(staging, path) == 0 else {
            let code = SystemError.lastErrno
            // Unpinned, the new link dies with this fd: the old one keeps running.
            unlink(staging)
            throw SystemError(verb: "pin tcx link at", object: path, errno: code)
        }
        if let old { _ = bpf_link_detach(old.fd) }
    }
}

/// tcx (kernel 6.6+): the tc hooks as a list of programs the kernel runs in
/// order, each attached through a link, with no qdisc.
public enum TCX {
    /// Whether this kernel has tcx; asks once per process (a query on
    /// loopback's hook, which kernels before 6.6 refuse as an unknown attach type).
    public static let isAvailable: Bool = fg_tcx_supported() == 1

    /// The programs on a tcx hook, in the order the kernel runs them.
    public struct HookPrograms: Sendable, Equatable {
        public var programIDs: [UInt32]
        /// The link of each program, 0 for one attached without a link.
        public var linkIDs: [UInt32]
        /// Bumped by the kernel on every change to the hook's list.
        public var revision: UInt64
    }

    public static func programs(ifindex: UInt32, egress: Bool) throws(SystemError) -> HookPrograms {
        var capacity: UInt32 = 16
        while true {
            var programs = [UInt32](repeating: 0, count: Int(capacity))
            var links = [UInt32](repeating: 0, count: Int(capacity))
            var count = capacity
            var revision: UInt64 = 0
            let result = fg_tcx_query(Int32(ifindex), egress ? 1 : 0, &programs, &links, &count, &revision)
            if result == -ENOSPC, count > capacity {
                capacity = count
                continue
            }
            guard result == 0 else {
                throw SystemError(verb: "list tcx \(egress ? "egress" : "ingress") programs of", object: "ifindex \(ifindex)", errno: -result)
            }
            return HookPrograms(programIDs: Array(programs.prefix(Int(count))), linkIDs: Array(links.prefix(Int(count))), revision: revision)
        }
    }
}
