// --udp-echo / --udp-rtt: a UDP ping-pong whose two ends busy-poll their
// sockets (MSG_DONTWAIT in a loop), for scripts/bench's redirect round trip.
// A blocking receive puts each end to sleep and wakes it per datagram; on this
// VM that adds tens of microseconds and most of the spread between rounds,
// where the hooks under comparison differ by tens of nanoseconds. Run the two
// ends on different cores (taskset): each spins on its own.

import Foundation
#if canImport(Glibc)
import Glibc
#endif

enum RoundTrip {
    /// The payload that ends the echo: no round trip uses sequence UInt64.max.
    static let stop = UInt64.max

    /// Echoes every datagram to `on`:`port` back to its sender until the stop
    /// datagram, or `idleSeconds` without one. Returns the datagrams echoed.
    static func echo(on: String, port: UInt16, idleSeconds: Double) -> Int {
        let fd = UDPSocket.open(source: on, sourcePort: port, destination: nil, port: 0, verb: "--udp-echo")
        var buffer = [UInt8](repeating: 0, count: 2048)
        var peer = sockaddr_in6()
        var echoed = 0
        var idleSince = now()
        while true {
            var length = socklen_t(MemoryLayout<sockaddr_in6>.size)
            let received = buffer.withUnsafeMutableBytes { bytes in
                withUnsafeMutablePointer(to: &peer) {
                    $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { recvfrom(fd, bytes.baseAddress, bytes.count, Int32(MSG_DONTWAIT), $0, &length) }
                }
            }
            if received < 0 {
                guard errno == EAGAIN || errno == EWOULDBLOCK else { UDPSocket.fail("--udp-echo", "recvfrom: \(String(cString: strerror(errno)))") }
                if now() - idleSince > UInt64(idleSeconds * 1e9) { break }
                continue
            }
            if received == 8, buffer.withUnsafeBytes({ $0.loadUnaligned(as: UInt64.self) }) == stop { break }
            _ = buffer.withUnsafeBytes { bytes in
                withUnsafePointer(to: &peer) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { sendto(fd, bytes.baseAddress, received, 0, $0, length) } }
            }
            echoed += 1
            idleSince = now()
        }
        close(fd)
        return echoed
    }

    /// `count` round trips, one at a time, from `source` to the echo at
    /// `destination`:`port`, after one answered warm-up (which also waits for
    /// the echo to be listening, up to `startSeconds`). A datagram unanswered
    /// within a second is lost. Round-trip times in microseconds, and the lost.
    static func measure(source: String, destination: String, port: UInt16, count: Int, startSeconds: Double = 5)
        -> (microseconds: [Double], lost: Int)
    {
        let fd = UDPSocket.open(source: source, sourcePort: 0, destination: destination, port: port, verb: "--udp-rtt")
        defer {
            var last = stop
            _ = send(fd, &last, 8, 0)
            close(fd)
        }
        var reply: UInt64 = 0
        /// Sends `sequence` and spins until it comes back; its round trip in ns, nil after `within` ns.
        func trip(_ sequence: UInt64, within: UInt64) -> UInt64? {
            var payload = sequence
            let started = now()
            guard send(fd, &payload, 8, 0) == 8 else { return nil }
            while true {
                let received = recv(fd, &reply, 8, Int32(MSG_DONTWAIT))
                let elapsed = now() - started
                if received == 8, reply == sequence { return elapsed }
                if elapsed > within { return nil }
            }
        }
        let warmUpEnd = now() + UInt64(startSeconds * 1e9)
        var answered = false
        while !answered, now() < warmUpEnd { answered = trip(UInt64.max - 1, within: 10_000_000) != nil }
        guard answered else { UDPSocket.fail("--udp-rtt", "no echo from \(destination):\(port) within \(startSeconds) s") }
        var samples: [Double] = []
        var lost = 0
        for sequence in 0..<UInt64(count) {
            if let nanoseconds = trip(sequence, within: 1_000_000_000) { samples.append(Double(nanoseconds) / 1000) } else { lost += 1 }
        }
        return (samples, lost)
    }

    static func now() -> UInt64 {
        var time = timespec()
        clock_gettime(CLOCK_MONOTONIC, &time)
        return UInt64(time.tv_sec) * 1_000_000_000 + UInt64(time.tv_nsec)
    }
}
