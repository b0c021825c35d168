#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Reads the small text files people hand to the CLI (policies, host inventories).
public enum TextFile {
    /// Far beyond any real policy or host file; stops `--policy /dev/zero` from reading forever.
    public static let maximumSize = 64 << 20

    /// The whole file as text (invalid UTF-8 becomes U+FFFD, which the parsers then reject
    /// with a position). `verb` names the attempt in the error, e.g. "read host file".
    public static func read(
        _ path: String, verb: String = "read", maximumSize: Int = TextFile.maximumSize
    ) throws(SystemError) -> String {
        let descriptor = try SystemError.retrying(verb, path) { open(path, O_RDONLY | O_CLOEXEC) }
        defer { close(descriptor) }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 64 << 10)
        while true {
            let count = try SystemError.retrying(verb, path) {
                Int32(chunk.withUnsafeMutableBytes { Glibc.read(descriptor, $0.baseAddress, $0.count) })
            }
            if count == 0 { return String(decoding: bytes, as: UTF8.self) }
            bytes += chunk[..<Int(count)]
            guard bytes.count <= maximumSize else {
                throw SystemError(
                    verb: verb, object: path, errno: 0,
                    detail: "larger than \(maximumSize >> 20) MiB, not a file fabricguard reads")
            }
        }
    }
}

extension TextFile {
    /// Replaces `path` with `text` (mode 0600) through a temporary file and
    /// rename: a reader sees the old file or the new one, never half of one.
    public static func write(_ text: String, to path: String) throws(SystemError) {
        let temporary = path + ".tmp"
        let descriptor = try SystemError.retrying("create", temporary) { open(temporary, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600) }
        let bytes = Array(text.utf8)
        var written = 0
        while written < bytes.count {
            let count = bytes[written...].withUnsafeBytes { Glibc.write(descriptor, $0.baseAddress, $0.count) }
            guard count > 0 else {
                let failure = SystemError.lastErrno
                close(descriptor)
                throw SystemError(verb: "write", object: temporary, errno: failure)
            }
            written += count
        }
        close(descriptor)
        try SystemError.check(rename(temporary, path), "rename \(temporary) to", path)
    }
}

/// Directories the agent owns: pin and runtime directories.
public enum PrivateDirectory {
    /// Creates `path` and its missing parents with mode 0700: pins give kernel
    /// access, runtime files name the daemon. An existing directory is kept.
    public static func make(_ path: String) throws(SystemError) {
        var built = ""
        for component in path.split(separator: "/") {
            built += "/" + component
            if mkdir(built, 0o700) != 0, SystemError.lastErrno != EEXIST {
                throw SystemError(verb: "create directory", object: built, errno: SystemError.lastErrno)
            }
        }
    }
}
