#if canImport(Glibc)
import Glibc
#endif

/// A failed kernel or libbpf operation, read as "verb object: cause (errno N)",
/// e.g. "attach tc egress program to sana0: Operation not permitted (errno 1)".
public struct BPFError: Error, Sendable, Equatable, CustomStringConvertible {
    public var verb: String
    public var object: String
    public var errno: Int32
    /// Extra context when the errno alone does not explain (e.g. an ABI mismatch).
    public var detail: String?

    public init(verb: String, object: String, errno: Int32, detail: String? = nil) {
        self.verb = verb
        self.object = object
        self.errno = errno
        self.detail = detail
    }

    public var description: String {
        let cause = detail ?? String(cString: strerror(errno))
        return errno == 0 ? "\(verb) \(object): \(cause)" : "\(verb) \(object): \(cause) (errno \(errno))"
    }
}

/// The one place each libbpf return convention becomes a Swift error.
enum LibBPF {
    /// libbpf ints: >= 0 success (often an fd), -errno failure.
    @discardableResult
    static func check(_ result: Int32, _ verb: String, _ object: String) throws(BPFError) -> Int32 {
        guard result >= 0 else { throw BPFError(verb: verb, object: object, errno: -result) }
        return result
    }

    /// Raw syscall wrappers (bpf_map_*_elem, bpf_obj_get): -1 with errno set.
    @discardableResult
    static func checkErrno(_ result: Int32, _ verb: String, _ object: String) throws(BPFError) -> Int32 {
        guard result >= 0 else { throw BPFError(verb: verb, object: object, errno: Glibc.errno) }
        return result
    }

    /// libbpf pointers: NULL with errno set.
    static func check<Pointer>(_ pointer: Pointer?, _ verb: String, _ object: String) throws(BPFError) -> Pointer {
        guard let pointer else { throw BPFError(verb: verb, object: object, errno: Glibc.errno) }
        return pointer
    }
}
