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
        let fd = UDPSocket.open(source: source, sourcePort: 0, destination: destination, port: port, verb: "--blast")
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
                        UDPSocket.fail("--blast", "send: \(String(cString: strerror(errno)))")
                    }
                }
            }
        }
        close(fd)
        return (sent, Date().timeIntervalSince(start))
    }
}
