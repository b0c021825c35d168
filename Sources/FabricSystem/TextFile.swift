#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Reads the small text files people hand to the CLI (policies, host inventories).
///
/// Every byte read here is untrusted: a path may name /dev/zero, a FIFO nobody writes,
/// a directory or a 50 MB file. So the file is opened without blocking, must be a
/// regular file (or `-`, standard input, when the caller allows it), is measured
/// before a byte is read, and must be UTF-8. Each refusal names the path and why.
public enum TextFile {
    /// The default cap: far beyond any real policy or host file.
    public static let maximumSize = 64 << 20

    /// Policies: the datapath holds 1,048,576 prefixes per family; both full, written as
    /// BenchWorld writes them (quoted, flow style), is 46.4 MiB (a million IPv4 host routes as
    /// `scripts/bench` writes them: 15 MiB). 64 MiB keeps the largest policy the kernel can
    /// hold; what a file that size can do to memory is bounded by `YAMLLimits` (values, depth,
    /// aliases), not by its size.
    public static let policyMaximumSize = 64 << 20

    /// Host inventories (`inventory --json`): about 300 bytes an interface, so 4 MiB is
    /// more than ten thousand interfaces with several addresses each.
    public static let hostMaximumSize = 4 << 20

    /// The whole file as text. `verb` names the attempt in the error, e.g. "read host file".
    /// `-` is standard input when `standardInput` is true, bounded by the same cap.
    /// Invalid UTF-8 is refused at its line and column rather than replaced.
    public static func read(
        _ path: String, verb: String = "read", maximumSize: Int = TextFile.maximumSize, standardInput: Bool = false
    ) throws(SystemError) -> String {
        let bytes: [UInt8]
        if path == "-" && standardInput {
            bytes = try readBytes(descriptor: 0, name: "standard input", verb: verb, maximumSize: maximumSize, regularOnly: false)
        } else {
            // O_NONBLOCK: opening a FIFO nobody writes to returns at once instead of hanging;
            // the type check below refuses it before any read.
            let descriptor = try SystemError.retrying(verb, path) { open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY) }
            defer { close(descriptor) }
            bytes = try readBytes(
                descriptor: descriptor, name: path, verb: verb, maximumSize: maximumSize, regularOnly: true,
                standardInput: standardInput)
        }
        return try text(bytes, verb: verb, name: path == "-" && standardInput ? "standard input" : path)
    }

    /// A file type in words, for the refusal of anything but a regular file.
    static func typeName(_ mode: mode_t) -> String {
        switch mode & mode_t(S_IFMT) {
        case mode_t(S_IFDIR): "directory"
        case mode_t(S_IFIFO): "FIFO"
        case mode_t(S_IFCHR): "character device"
        case mode_t(S_IFBLK): "block device"
        case mode_t(S_IFSOCK): "socket"
        case mode_t(S_IFLNK): "symbolic link"
        default: "not a regular file"
        }
    }

    /// A size in words, rounded down to a tenth: "47.6 MiB", "64 bytes".
    static func mebibytes(_ size: Int) -> String {
        func tenths(_ unit: Int) -> String {
            let value = size * 10 / unit
            return value % 10 == 0 ? "\(value / 10)" : "\(value / 10).\(value % 10)"
        }
        return size >= 1 << 20 ? "\(tenths(1 << 20)) MiB" : size >= 1 << 10 ? "\(tenths(1 << 10)) KiB" : "\(size) bytes"
    }

    private static func readBytes(
        descriptor: Int32, name: String, verb: String, maximumSize: Int, regularOnly: Bool, standardInput: Bool = false
    ) throws(SystemError) -> [UInt8] {
        var status = stat()
        try SystemError.check(fstat(descriptor, &status), verb, name)
        let isRegular = status.st_mode & mode_t(S_IFMT) == mode_t(S_IFREG)
        if regularOnly && !isRegular {
            let hint = standardInput ? "give a file, or - for standard input" : "give a regular file"
            throw SystemError(verb: verb, object: name, errno: 0, detail: "not a regular file (\(typeName(status.st_mode))); \(hint)")
        }
        // The size when known (a regular file), else "more than" (a pipe, or a file that grew).
        let tooLarge = { (size: String?) in
            SystemError(
                verb: verb, object: name, errno: 0,
                detail: (size.map { "\($0), over" } ?? "more than") + " the \(mebibytes(maximumSize)) limit for this file")
        }
        if isRegular, Int(status.st_size) > maximumSize {
            throw tooLarge(mebibytes(Int(status.st_size)))
        }
        if regularOnly {
            // Regular files never block; reads below are plain ones again.
            let flags = fcntl(descriptor, F_GETFL)
            if flags >= 0 { _ = fcntl(descriptor, F_SETFL, flags & ~O_NONBLOCK) }
        }
        // One byte beyond the cap tells a file that grew (or a pipe) past it.
        // (procfs files say 0 bytes and have more: the size is where reading starts, not a promise.)
        var bytes = [UInt8](repeating: 0, count: min(maximumSize + 1, max(isRegular ? Int(status.st_size) + 1 : 0, 4 << 10)))
        var filled = 0
        while true {
            if filled == bytes.count {
                guard bytes.count <= maximumSize else { throw tooLarge(nil) }
                // An array, not repeatElement: that is a generic element-by-element
                // append in a debug build (64 MiB from a pipe took 20 s).
                bytes += [UInt8](repeating: 0, count: min(maximumSize + 1, bytes.count * 2) - bytes.count)
            }
            let count = try SystemError.retrying(verb, name) {
                Int32(bytes.withUnsafeMutableBytes { Glibc.read(descriptor, $0.baseAddress! + filled, $0.count - filled) })
            }
            if count == 0 { break }
            filled += Int(count)
            if filled > maximumSize { throw tooLarge(nil) }
        }
        bytes.removeLast(bytes.count - filled)
        return bytes
    }

    /// Line and column (1-based, the column in characters) of a byte offset in UTF-8 text.
    public static func position(ofByte offset: Int, in bytes: some Collection<UInt8>) -> (line: Int, column: Int) {
        var line = 1, column = 1
        for byte in bytes.prefix(offset) {
            if byte == 0x0a {
                line += 1
                column = 1
            } else if byte & 0xc0 != 0x80 {
                column += 1
            }
        }
        return (line, column)
    }

    /// The bytes as a String, or an error at the first byte that is not UTF-8: a policy
    /// is text, and U+FFFD in an interface name would be accepted as a different name.
    static func text(_ bytes: [UInt8], verb: String, name: String) throws(SystemError) -> String {
        if let text = String(validating: bytes, as: UTF8.self) { return text }
        var parser = Unicode.UTF8.ForwardParser()
        var iterator = bytes.makeIterator()
        var offset = 0
        loop: while true {
            switch parser.parseScalar(from: &iterator) {
            case .valid(let scalar): offset += scalar.count
            case .error: break loop
            case .emptyInput: break loop
            }
        }
        let (line, column) = position(ofByte: offset, in: bytes)
        let byte = String(bytes[offset], radix: 16, uppercase: true)
        throw SystemError(
            verb: verb, object: name, errno: 0,
            detail: "not UTF-8 text (byte 0x\(byte.count == 1 ? "0" : "")\(byte) at line \(line), column \(column))")
    }
}

extension TextFile {
    /// Replaces `path` with `text` (mode 0600) through a temporary file and
    /// rename: a reader sees the old file or the new one, never half of one.
    public static func write(_ text: String, to path: String) throws(SystemError) {
        let temporary = path + ".tmp"
        let descriptor = try SystemError.retrying("create", temporary) { open(temporary, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600) }
        // Written from the string's own storage: no copy of a 16 MB policy.
        var text = text
        let failure = text.withUTF8 { bytes -> Int32? in
            var written = 0
            while written < bytes.count {
                let count = Glibc.write(descriptor, bytes.baseAddress! + written, bytes.count - written)
                guard count > 0 else { return SystemError.lastErrno }
                written += count
            }
            return nil
        }
        close(descriptor)
        if let failure { throw SystemError(verb: "write", object: temporary, errno: failure) }
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
