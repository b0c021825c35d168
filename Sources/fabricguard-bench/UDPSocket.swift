// The UDP sockets of fabricguard-bench's traffic helpers (--blast, --udp-echo,
// --udp-rtt): bound, and connected when they talk to one peer.

import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A UDP socket bound to `source`:`sourcePort` and, given a destination, connected to it.
enum UDPSocket {
    static func open(source: String, sourcePort: UInt16, destination: String?, port: UInt16, verb: String) -> Int32 {
        let isV6 = (destination ?? source).contains(":")
        let fd = socket(isV6 ? AF_INET6 : AF_INET, Int32(SOCK_DGRAM.rawValue), 0)
        guard fd >= 0 else { fail(verb, "socket: \(String(cString: strerror(errno)))") }
        var local = address(source, port: sourcePort, v6: isV6, verb: verb)
        let length = socklen_t(isV6 ? MemoryLayout<sockaddr_in6>.size : MemoryLayout<sockaddr_in>.size)
        guard withUnsafePointer(to: &local, { bind(fd, UnsafeRawPointer($0).assumingMemoryBound(to: sockaddr.self), length) }) == 0 else {
            fail(verb, "bind \(source):\(sourcePort): \(String(cString: strerror(errno)))")
        }
        if let destination {
            var remote = address(destination, port: port, v6: isV6, verb: verb)
            guard withUnsafePointer(to: &remote, { connect(fd, UnsafeRawPointer($0).assumingMemoryBound(to: sockaddr.self), length) }) == 0 else {
                fail(verb, "connect \(source) -> \(destination):\(port): \(String(cString: strerror(errno)))")
            }
        }
        return fd
    }

    static func address(_ text: String, port: UInt16, v6: Bool, verb: String) -> sockaddr_in6 {
        // sockaddr_in6 is large enough to hold either family.
        var storage = sockaddr_in6()
        if v6 {
            storage.sin6_family = sa_family_t(AF_INET6)
            storage.sin6_port = port.bigEndian
            guard inet_pton(AF_INET6, text, &storage.sin6_addr) == 1 else { fail(verb, "bad address \(text)") }
        } else {
            withUnsafeMutableBytes(of: &storage) { raw in
                var v4 = sockaddr_in()
                v4.sin_family = sa_family_t(AF_INET)
                v4.sin_port = port.bigEndian
                guard inet_pton(AF_INET, text, &v4.sin_addr) == 1 else { fail(verb, "bad address \(text)") }
                withUnsafeBytes(of: v4) { raw.copyMemory(from: $0) }
            }
        }
        return storage
    }

    static func fail(_ verb: String, _ message: String) -> Never {
        FileOutput.error("fabricguard-bench \(verb): \(message)")
        exit(1)
    }
}
