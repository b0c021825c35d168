// --blast: small UDP datagrams as fast as one core can send them, for the
// real-hook throughput comparisons of scripts/bench: one connected socket,
// send() in a tight loop. On veth the whole path of a packet (the hook under
// test, the peer's receive, delivery) runs on the sending core, so the rate
// is that path's cost, and configurations compare as ratios.

import Foundation
#if canImport(Glibc)
import Glibc
#endif

enum Blast {
    /// Sends from `source` to `destination`:`port` for `seconds`; returns datagrams sent.
    static func run(source: String, destination: String, port: UInt16, seconds: Double, payload: Int = 18) -> (sent: Int, seconds: Double) {
        let isV6 = destination.contains(":")
        let fd = socket(isV6 ? AF_INET6 : AF_INET, Int32(SOCK_DGRAM.rawValue), 0)
        guard fd >= 0 else { fail("socket: \(String(cString: strerror(errno)))") }
        var local = address(source, port: 0, v6: isV6)
        var remote = address(destination, port: port, v6: isV6)
        let length = socklen_t(isV6 ? MemoryLayout<sockaddr_in6>.size : MemoryLayout<sockaddr_in>.size)
        guard withUnsafePointer(to: &local, { bind(fd, UnsafeRawPointer($0).assumingMemoryBound(to: sockaddr.self), length) }) == 0,
              withUnsafePointer(to: &remote, { connect(fd, UnsafeRawPointer($0).assumingMemoryBound(to: sockaddr.self), length) }) == 0
        else { fail("bind/connect \(source) -> \(destination): \(String(cString: strerror(errno)))") }

        let data = [UInt8](repeating: 0x42, count: payload)
        var sent = 0
        let start = Date()
        let end = start.addingTimeInterval(seconds)
        data.withUnsafeBytes { bytes in
            while Date() < end {
                for _ in 0..<1024 {
                    if Glibc.send(fd, bytes.baseAddress, payload, 0) > 0 {
                        sent += 1
                    } else if errno != ENOBUFS && errno != EAGAIN {
                        fail("send: \(String(cString: strerror(errno)))")
                    }
                }
            }
        }
        close(fd)
        return (sent, Date().timeIntervalSince(start))
    }

    static func address(_ text: String, port: UInt16, v6: Bool) -> sockaddr_in6 {
        // sockaddr_in6 is large enough to hold either family.
        var storage = sockaddr_in6()
        if v6 {
            storage.sin6_family = sa_family_t(AF_INET6)
            storage.sin6_port = port.bigEndian
            guard inet_pton(AF_INET6, text, &storage.sin6_addr) == 1 else { fail("bad address \(text)") }
        } else {
            withUnsafeMutableBytes(of: &storage) { raw in
                var v4 = sockaddr_in()
                v4.sin_family = sa_family_t(AF_INET)
                v4.sin_port = port.bigEndian
                guard inet_pton(AF_INET, text, &v4.sin_addr) == 1 else { fail("bad address \(text)") }
                withUnsafeBytes(of: v4) { raw.copyMemory(from: $0) }
            }
        }
        return storage
    }

    static func fail(_ message: String) -> Never {
        FileOutput.error("fabricguard-bench --blast: \(message)")
        exit(1)
    }
}
