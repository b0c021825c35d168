internal import CBPFShim
import Foundation

/// libbpf's messages, held back instead of printed: most are noise from
/// probing (a missing clsact qdisc is how we learn there is none), but when
/// an operation fails, its last lines (the verifier log among them) explain why.
public enum LibBPFLog {
    private final class Buffer: @unchecked Sendable {
        let lock = NSLock()
        var lines: [String] = []
    }

    private static let buffer = Buffer()
    private static let limit = 400

    /// Routes libbpf's output into the buffer (from now on, process-wide).
    public static func capture() {
        fg_libbpf_set_log_sink { _, line in
            guard let line else { return }
            let text = String(cString: line).trimmingCharacters(in: .newlines)
            LibBPFLog.buffer.lock.lock()
            LibBPFLog.buffer.lines.append(text)
            if LibBPFLog.buffer.lines.count > LibBPFLog.limit { LibBPFLog.buffer.lines.removeFirst() }
            LibBPFLog.buffer.lock.unlock()
        }
    }

    /// The captured lines, oldest first, and forgets them.
    public static func drain() -> [String] {
        buffer.lock.lock()
        defer { buffer.lock.unlock() }
        let lines = buffer.lines
        buffer.lines = []
        return lines
    }
}
