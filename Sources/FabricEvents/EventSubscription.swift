import FabricSystem
import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// A client of the daemon's events socket: the daemon owns the ring and
/// writes every event to each client as one JSON line (`ViolationEvent`).
public final class EventSubscription {
    private let descriptor: Int32
    private var buffer: [UInt8] = []
    private var start = 0

    /// Connects to the socket at `path`; ENOENT or ECONNREFUSED mean no daemon serves it.
    public init(path: String) throws(SystemError) {
        descriptor = try SystemError.check(socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0), "open socket for", path)
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        let bytes = Array(path.utf8)
        guard bytes.count < MemoryLayout.size(ofValue: address.sun_path) else {
            close(descriptor)
            throw SystemError(verb: "connect to", object: path, errno: ENAMETOOLONG)
        }
        withUnsafeMutableBytes(of: &address.sun_path) { $0.copyBytes(from: bytes) }
        let result = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(descriptor, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        if result < 0 {
            let failure = errno
            close(descriptor)
            throw SystemError(verb: "connect to", object: path, errno: failure)
        }
    }

    deinit { close(descriptor) }

    /// The next event and its JSON line as the daemon wrote it (newline
    /// included), waiting for it; nil when the daemon closed the stream.
    public func next() throws -> (event: ViolationEvent, line: [UInt8])? {
        while true {
            if let newline = buffer[start...].firstIndex(of: UInt8(ascii: "\n")) {
                let line = Array(buffer[start...newline])
                start = newline + 1
                if start > 65536 {
                    buffer.removeFirst(start)
                    start = 0
                }
                return (try ViolationEvent.decoder.decode(ViolationEvent.self, from: Data(line)), line)
            }
            var chunk = [UInt8](repeating: 0, count: 65536)
            let count = try SystemError.retrying("read events from", "the daemon") {
                Int32(chunk.withUnsafeMutableBytes { read(descriptor, $0.baseAddress, $0.count) })
            }
            if count == 0 { return nil }
            buffer += chunk[..<Int(count)]
        }
    }
}
