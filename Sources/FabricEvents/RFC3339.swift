#if canImport(Glibc)
import Glibc
#endif

/// Event times as RFC 3339 in UTC with microseconds ("2026-12-04T05:42:15.101234Z"),
/// written and read without a date formatter: the daemon stamps every event,
/// and a formatter per event cost more than the rest of describing it.
public enum RFC3339 {
    public static func format(epochNanoseconds: Int64) -> String {
        var seconds = time_t(epochNanoseconds / 1_000_000_000)
        var parts = tm()
        gmtime_r(&seconds, &parts)
        let micros = Int(epochNanoseconds % 1_000_000_000) / 1000
        var text = ""
        text.reserveCapacity(27)
        func append(_ value: Int, width: Int) {
            let digits = String(value)
            text += String(repeating: "0", count: max(0, width - digits.count)) + digits
        }
        append(Int(parts.tm_year) + 1900, width: 4)
        text += "-"
        append(Int(parts.tm_mon) + 1, width: 2)
        text += "-"
        append(Int(parts.tm_mday), width: 2)
        text += "T"
        append(Int(parts.tm_hour), width: 2)
        text += ":"
        append(Int(parts.tm_min), width: 2)
        text += ":"
        append(Int(parts.tm_sec), width: 2)
        text += "."
        append(micros, width: 6)
        return text + "Z"
    }

    /// Seconds since the epoch of a time `format` wrote (any number of
    /// fractional digits, `Z` only); nil for anything else.
    public static func parse(_ text: String) -> Double? {
        let bytes = Array(text.utf8)
        guard bytes.count >= 20, bytes.last == UInt8(ascii: "Z") else { return nil }
        func number(_ range: Range<Int>) -> Int? {
            var value = 0
            for byte in bytes[range] {
                guard byte >= UInt8(ascii: "0"), byte <= UInt8(ascii: "9") else { return nil }
                value = value * 10 + Int(byte - UInt8(ascii: "0"))
            }
            return value
        }
        guard let year = number(0..<4), let month = number(5..<7), let day = number(8..<10), let hour = number(11..<13),
              let minute = number(14..<16), let second = number(17..<19)
        else { return nil }
        var parts = tm()
        parts.tm_year = Int32(year - 1900)
        parts.tm_mon = Int32(month - 1)
        parts.tm_mday = Int32(day)
        parts.tm_hour = Int32(hour)
        parts.tm_min = Int32(minute)
        parts.tm_sec = Int32(second)
        var fraction = 0.0
        if bytes[19] == UInt8(ascii: ".") {
            guard bytes.count > 21, let digits = number(20..<bytes.count - 1) else { return nil }
            fraction = Double(digits) / pow(10, Double(bytes.count - 21))
        }
        return Double(timegm(&parts)) + fraction
    }
}
