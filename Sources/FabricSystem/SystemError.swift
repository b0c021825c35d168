#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A failed system, kernel or library call, read the one way the project says
/// it: "verb object: cause (errno N)", e.g. "attach tc-egress program to sana0:
/// Operation not permitted (errno 1)". Every module that talks to the system
/// throws this, so the words and the errno are formatted in exactly one place.
public struct SystemError: Error, Sendable, Equatable, CustomStringConvertible {
    /// What was being attempted, e.g. "pin map at".
    public var verb: String
    /// What it was attempted on, e.g. a path, an interface, a map name.
    public var object: String
    /// The errno of the failing call; 0 when no call failed and `detail` explains.
    public var errno: Int32
    /// The cause in words when the errno alone does not explain (an ABI mismatch, a size limit).
    public var detail: String?

    public init(verb: String, object: String, errno: Int32, detail: String? = nil) {
        self.verb = verb
        self.object = object
        self.errno = errno
        self.detail = detail
    }

    public var description: String {
        let subject = object.isEmpty ? verb : "\(verb) \(object)"
        guard errno != 0 else { return "\(subject): \(detail ?? "failed")" }
        let cause = detail.map { "\($0): " } ?? ""
        return "\(subject): \(cause)\(SystemError.text(errno)) (errno \(errno))"
    }

    /// strerror(3), the only place the project calls it.
    public static func text(_ code: Int32) -> String { String(cString: strerror(code)) }
}

/// The C return conventions, each turned into a `SystemError` in one place
/// (as swift-system's `Errno` does).
extension SystemError {
    /// System calls and libbpf's raw syscall wrappers: -1 (or any negative) with errno set.
    @discardableResult
    public static func check(_ result: Int32, _ verb: String, _ object: String) throws(SystemError) -> Int32 {
        guard result >= 0 else { throw SystemError(verb: verb, object: object, errno: lastErrno) }
        return result
    }

    /// libbpf and kernel-style ints: >= 0 success (often an fd), -errno failure.
    @discardableResult
    public static func checkNegated(_ result: Int32, _ verb: String, _ object: String) throws(SystemError) -> Int32 {
        guard result >= 0 else { throw SystemError(verb: verb, object: object, errno: -result) }
        return result
    }

    /// Pointer-returning calls: NULL with errno set.
    public static func check<Pointer>(_ pointer: Pointer?, _ verb: String, _ object: String) throws(SystemError) -> Pointer {
        guard let pointer else { throw SystemError(verb: verb, object: object, errno: lastErrno) }
        return pointer
    }

    /// Retries a call interrupted by a signal (EINTR), then checks it like `check`.
    @discardableResult
    public static func retrying(_ verb: String, _ object: String, _ call: () -> Int32) throws(SystemError) -> Int32 {
        while true {
            let result = call()
            if result >= 0 { return result }
            if lastErrno != EINTR { throw SystemError(verb: verb, object: object, errno: lastErrno) }
        }
    }

    public static var lastErrno: Int32 {
        #if canImport(Glibc)
        Glibc.errno
        #else
        Darwin.errno
        #endif
    }
}

extension Duration {
    /// The duration in (fractional) milliseconds, as logs and reports print it.
    public var milliseconds: Double {
        Double(components.seconds) * 1e3 + Double(components.attoseconds) / 1e15
    }
}
