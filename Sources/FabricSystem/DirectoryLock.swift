#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// An exclusive flock(2) on a directory, held until the value is released or
/// the process dies (the kernel drops it then: a crashed holder never leaves a
/// stale lock behind). libxdp locks its bpffs directory the same way.
public final class DirectoryLock: @unchecked Sendable {
    public let path: String
    private var descriptor: Int32

    private init(path: String, descriptor: Int32) {
        self.path = path
        self.descriptor = descriptor
    }

    deinit { release() }

    public func release() {
        guard descriptor >= 0 else { return }
        close(descriptor)
        descriptor = -1
    }

    /// Locks `path` (which must exist). With `wait`, blocks until the holder
    /// lets go; without, returns nil when another process holds it.
    ///
    /// A directory can be removed and made again while we wait (`unload`, then
    /// another `apply`): a lock on the removed inode would guard nothing, so
    /// the lock is taken again until it is on the inode the path names now.
    public static func acquire(_ path: String, wait: Bool) throws(SystemError) -> DirectoryLock? {
        while true {
            let descriptor = try SystemError.retrying("open directory", path) { open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC) }
            let locked = flock(descriptor, LOCK_EX | (wait ? 0 : LOCK_NB))
            if locked != 0 {
                let code = SystemError.lastErrno
                close(descriptor)
                if code == EINTR { continue }
                if code == EWOULDBLOCK { return nil }
                throw SystemError(verb: "lock directory", object: path, errno: code)
            }
            var held = stat()
            var named = stat()
            if fstat(descriptor, &held) == 0, stat(path, &named) == 0, held.st_ino == named.st_ino, held.st_dev == named.st_dev {
                return DirectoryLock(path: path, descriptor: descriptor)
            }
            close(descriptor)
        }
    }

    /// The pid holding a flock on `path`, from /proc/locks (what lslocks reads),
    /// or nil when nobody holds one.
    public static func holder(of path: String) -> Int32? {
        var named = stat()
        guard stat(path, &named) == 0 else { return nil }
        let device = "\(String(major(named.st_dev), radix: 16, uppercase: false).leftPadded(2)):"
            + "\(String(minor(named.st_dev), radix: 16, uppercase: false).leftPadded(2)):\(named.st_ino)"
        guard let file = fopen("/proc/locks", "re") else { return nil }
        defer { fclose(file) }
        var buffer: UnsafeMutablePointer<CChar>?
        var capacity = 0
        defer { free(buffer) }
        // "1: FLOCK  ADVISORY  WRITE 1234 00:2d:5678 0 EOF"; blocked waiters are listed as "1: -> FLOCK ...".
        while getline(&buffer, &capacity, file) > 0, let buffer {
            let fields = String(cString: buffer).split(whereSeparator: { $0 == " " || $0 == "\n" })
            guard fields.count >= 6, fields[1] == "FLOCK", fields[5] == device else { continue }
            return Int32(fields[4])
        }
        return nil
    }

    private static func major(_ device: dev_t) -> UInt32 { UInt32((device >> 8) & 0xfff) | UInt32((device >> 32) & ~0xfff) }
    private static func minor(_ device: dev_t) -> UInt32 { UInt32(device & 0xff) | UInt32((device >> 12) & ~0xff) }
}

extension String {
    fileprivate func leftPadded(_ width: Int) -> String {
        count >= width ? self : String(repeating: "0", count: width - count) + self
    }
}
