#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import FabricPolicy

/// The host's interfaces and their addresses, as the policy validator sees them.
///
/// Read from the running kernel by `LiveHost`, or from a file another machine wrote with
/// `fabricguard inventory --json`, so a policy can be checked against a host it is not running on.
public struct HostInventory: Codable, Sendable, Equatable {
    public var hostname: String?
    /// Sorted by ifindex.
    public var interfaces: [HostInterface]

    public init(hostname: String? = nil, interfaces: [HostInterface]) {
        self.hostname = hostname
        self.interfaces = interfaces.sorted { $0.index < $1.index }
    }

    public func interface(named name: String) -> HostInterface? {
        interfaces.first { $0.name == name }
    }

    public func interface(index: UInt32) -> HostInterface? {
        interfaces.first { $0.index == index }
    }

    /// Every (interface, address) pair.
    public var addresses: [(interface: HostInterface, address: HostAddress)] {
        interfaces.flatMap { interface in
            interface.addresses.map { (interface: interface, address: $0) }
        }
    }

    private enum CodingKeys: String, CodingKey, CaseIterable {
        case hostname, interfaces
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.strictContainer(keyedBy: CodingKeys.self)
        let hostname = try container.decodeIfPresent(String.self, forKey: .hostname)
        let interfaces = try container.decode([HostInterface].self, forKey: .interfaces)
        // Names and indexes are how the policy and the kernel refer to an interface; two
        // entries sharing either would make every lookup ambiguous.
        let listPath = container.codingPath + [CodingKeys.interfaces]
        var positionByName: [String: Int] = [:]
        var positionByIndex: [UInt32: Int] = [:]
        for (position, interface) in interfaces.enumerated() {
            let itemPath = listPath + [JSONKey(position)]
            if let first = positionByName.updateValue(position, forKey: interface.name) {
                throw DecodingError.dataCorrupted(.init(
                    codingPath: itemPath + [JSONKey("name")],
                    debugDescription: "duplicate interface name '\(interface.name)' "
                        + "(also at \(JSONPath.render(listPath + [JSONKey(first)])))"))
            }
            if let first = positionByIndex.updateValue(position, forKey: interface.index) {
                throw DecodingError.dataCorrupted(.init(
                    codingPath: itemPath + [JSONKey("ifindex")],
                    debugDescription: "duplicate ifindex \(interface.index) "
                        + "(also at \(JSONPath.render(listPath + [JSONKey(first)])))"))
            }
        }
        self.init(hostname: hostname, interfaces: interfaces)
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encodeIfPresent(hostname, forKey: .hostname)
        try container.encode(interfaces, forKey: .interfaces)
    }

    /// Decodes the JSON that `fabricguard inventory --json` writes, failing with the JSON path
    /// of the first problem. Prefer this to a bare JSONDecoder, which on Linux cannot locate
    /// syntax errors and lets a repeated key silently win.
    public init(json: Data) throws(HostInventoryError) {
        self = try HostInventory.decode(json: Array(json), action: "decode host inventory")
    }

    static func decode(json bytes: [UInt8], action: String) throws(HostInventoryError) -> HostInventory {
        // JSONDecoder on Linux reports every syntax error, and every number that does not fit
        // the requested type, as a bare "not valid JSON" with no position; it also silently
        // accepts duplicate keys and trailing commas. Checking the text first means such a
        // file fails with a line and column, or a path, instead.
        do throws(JSONSyntax.Problem) {
            try JSONSyntax.check(bytes)
        } catch {
            throw HostInventoryError(action: action, reason: error.message)
        }
        do {
            return try JSONDecoder().decode(HostInventory.self, from: Data(bytes))
        } catch let error as DecodingError {
            throw HostInventoryError(action: action, reason: DecodingProblem.describe(error))
        } catch {
            throw HostInventoryError(action: action, reason: String(describing: error))
        }
    }
}

public struct HostInterface: Codable, Sendable, Equatable {
    public var name: String
    /// The kernel's ifindex; JSON key "ifindex".
    public var index: UInt32
    /// IFF_UP: administratively up.
    public var up: Bool
    /// IFF_RUNNING: operationally up, i.e. the link has carrier.
    public var running: Bool
    /// Link-layer address as lowercase colon-separated hex ("02:00:00:00:00:01"); nil when the
    /// link has none (tun devices, WireGuard). Not only Ethernet: lo reports six zero bytes
    /// and IP tunnels report their local IPv4 address as four bytes.
    public var mac: String?
    /// Sorted: IPv4 first, then numerically, then by prefix length.
    public var addresses: [HostAddress]

    /// Whether the interface can carry traffic, including traffic redirected onto it.
    public var usable: Bool { up && running }

    public init(
        name: String, index: UInt32, up: Bool, running: Bool, mac: String? = nil,
        addresses: [HostAddress] = []
    ) {
        self.name = name
        self.index = index
        self.up = up
        self.running = running
        self.mac = mac
        self.addresses = addresses.sorted { ($0.address, $0.prefixLength) < ($1.address, $1.prefixLength) }
    }

    private enum CodingKeys: String, CodingKey, CaseIterable {
        case name
        case index = "ifindex"
        case up, running, mac, addresses
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.strictContainer(keyedBy: CodingKeys.self)
        let name = try container.decode(String.self, forKey: .name)
        if let problem = InterfaceName.problem(with: name) {
            throw DecodingError.dataCorruptedError(
                forKey: .name, in: container,
                debugDescription: "'\(name)' is not a valid interface name: \(problem)")
        }
        let index = try container.decodeInteger(forKey: .index)
        guard index != 0 else {
            throw DecodingError.dataCorruptedError(
                forKey: .index, in: container,
                debugDescription: "0 is not an ifindex (the kernel numbers interfaces from 1)")
        }
        guard let index = UInt32(exactly: index) else {
            throw DecodingError.dataCorruptedError(
                forKey: .index, in: container,
                debugDescription: "ifindex must be between 1 and \(UInt32.max), found \(index)")
        }
        let up = try container.decode(Bool.self, forKey: .up)
        let running = try container.decode(Bool.self, forKey: .running)
        var mac = try container.decodeIfPresent(String.self, forKey: .mac)
        if let text = mac {
            guard let normalized = LinkAddress.normalize(text) else {
                throw DecodingError.dataCorruptedError(
                    forKey: .mac, in: container,
                    debugDescription: "'\(text)' is not a link-layer address "
                        + "(expected hex byte pairs separated by colons, like 02:00:00:00:00:01)")
            }
            mac = normalized
        }
        let addresses = try container.decode([HostAddress].self, forKey: .addresses)
        var positionByAddress: [HostAddress: Int] = [:]
        for (position, address) in addresses.enumerated() {
            if let first = positionByAddress.updateValue(position, forKey: address) {
                let listPath = container.codingPath + [CodingKeys.addresses]
                throw DecodingError.dataCorrupted(.init(
                    codingPath: listPath + [JSONKey(position)],
                    debugDescription: "duplicate address \(address) "
                        + "(also at \(JSONPath.render(listPath + [JSONKey(first)])))"))
            }
        }
        self.init(name: name, index: index, up: up, running: running, mac: mac, addresses: addresses)
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(name, forKey: .name)
        try container.encode(index, forKey: .index)
        try container.encode(up, forKey: .up)
        try container.encode(running, forKey: .running)
        try container.encodeIfPresent(mac, forKey: .mac)
        try container.encode(addresses, forKey: .addresses)
    }
}

/// An address assigned to an interface, with the prefix length it was assigned with
/// (`192.0.2.2/24`: host bits are kept, unlike `IPPrefix`).
public struct HostAddress: Codable, Sendable, Equatable, Hashable, CustomStringConvertible {
    public var address: IPAddress
    /// JSON key "prefix_length".
    public var prefixLength: Int

    public init(_ address: IPAddress, prefixLength: Int) {
        self.address = address
        self.prefixLength = prefixLength
    }

    /// The on-link subnet the address belongs to.
    public var prefix: IPPrefix { IPPrefix(covering: address, length: prefixLength) }

    public var description: String { "\(address)/\(prefixLength)" }

    private enum CodingKeys: String, CodingKey, CaseIterable {
        case address
        case prefixLength = "prefix_length"
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.strictContainer(keyedBy: CodingKeys.self)
        let address = try container.decode(IPAddress.self, forKey: .address)
        let length = try container.decodeInteger(forKey: .prefixLength)
        let width = address.family.bitWidth
        guard (0...width).contains(length) else {
            let family = address.family == .ipv4 ? "IPv4" : "IPv6"
            throw DecodingError.dataCorruptedError(
                forKey: .prefixLength, in: container,
                debugDescription: "\(length) is out of range for an \(family) address (0...\(width))")
        }
        self.init(address, prefixLength: length)
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(address, forKey: .address)
        try container.encode(prefixLength, forKey: .prefixLength)
    }
}

// MARK: - Validation shared by decoding and the live reader

enum InterfaceName {
    /// The kernel's own rule (dev_valid_name), so a file can only name interfaces that could exist.
    static func problem(with name: String) -> String? {
        let bytes = Array(name.utf8)
        if bytes.isEmpty { return "it is empty" }
        if bytes.count > 15 { return "it is longer than 15 bytes" }
        if name == "." || name == ".." { return "it is reserved" }
        if bytes.contains(where: { $0 == UInt8(ascii: "/") || $0 == UInt8(ascii: ":") }) {
            return "it contains '/' or ':'"
        }
        if bytes.contains(where: { $0 == 0 || $0 == 0x20 || (0x09...0x0d).contains($0) }) {
            return "it contains whitespace or NUL"
        }
        return nil
    }
}

enum LinkAddress {
    /// Linux's MAX_ADDR_LEN.
    static let maximumLength = 32

    static func format<Bytes: Collection<UInt8>>(_ bytes: Bytes) -> String {
        let digits = Array("0123456789abcdef")
        return bytes.map { String([digits[Int($0 >> 4)], digits[Int($0 & 0xf)]]) }.joined(separator: ":")
    }

    /// Lowercases a well-formed address so files written by hand compare equal to live ones.
    static func normalize(_ text: String) -> String? {
        let parts = text.split(separator: ":", omittingEmptySubsequences: false)
        guard (1...maximumLength).contains(parts.count) else { return nil }
        var bytes: [UInt8] = []
        for part in parts {
            guard part.utf8.count == 2, part.allSatisfy(\.isHexDigit), let byte = UInt8(part, radix: 16) else {
                return nil
            }
            bytes.append(byte)
        }
        return format(bytes)
    }
}

// MARK: - Strict decoding support

/// A coding key for paths built by hand and for listing the keys an object really has.
struct JSONKey: CodingKey {
    let stringValue: String
    let intValue: Int?

    init(_ string: String) {
        stringValue = string
        intValue = nil
    }

    init(_ index: Int) {
        stringValue = "Index \(index)"
        intValue = index
    }

    init?(stringValue: String) { self.init(stringValue) }
    init?(intValue: Int) { self.init(intValue) }
}

enum JSONPath {
    /// `interfaces[2].ifindex`: the form a person would type to find the spot in the file.
    static func render(_ path: [any CodingKey]) -> String {
        var text = ""
        for key in path {
            if let index = key.intValue {
                text += "[\(index)]"
            } else if isPlain(key.stringValue) {
                text += text.isEmpty ? key.stringValue : ".\(key.stringValue)"
            } else {
                text += "[\(quote(key.stringValue))]"
            }
        }
        return text
    }

    private static func isPlain(_ key: String) -> Bool {
        !key.isEmpty && key.unicodeScalars.allSatisfy {
            ($0.isASCII && ($0.properties.isAlphabetic || ("0"..."9").contains($0))) || $0 == "_" || $0 == "-"
        }
    }

    static func quote(_ text: String) -> String {
        var quoted = "\""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": quoted += "\\\""
            case "\\": quoted += "\\\\"
            case _ where scalar.value < 0x20:
                let hex = String(scalar.value, radix: 16)
                quoted += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
            default: quoted.unicodeScalars.append(scalar)
            }
        }
        return quoted + "\""
    }
}

extension Decoder {
    /// A keyed container that refuses keys outside `Key`: a misspelt optional field in a
    /// hand-written host file must fail rather than be silently ignored.
    func strictContainer<Key: CodingKey & CaseIterable>(keyedBy type: Key.Type) throws -> KeyedDecodingContainer<Key> {
        let everything = try container(keyedBy: JSONKey.self)
        let known = Key.allCases.map(\.stringValue)
        let unknown = everything.allKeys.map(\.stringValue).filter { !known.contains($0) }.sorted()
        if let first = unknown.first {
            var message = "unknown field"
            if let suggestion = Spelling.closest(to: first, among: known) {
                message += " (did you mean '\(suggestion)'?)"
            } else {
                message += " (expected one of: \(known.joined(separator: ", ")))"
            }
            throw DecodingError.dataCorrupted(.init(
                codingPath: everything.codingPath + [JSONKey(first)], debugDescription: message))
        }
        return try container(keyedBy: type)
    }
}

enum Spelling {
    /// The candidate a typo most likely meant, if any is close enough to be worth suggesting.
    static func closest(to word: String, among candidates: [String]) -> String? {
        let scored = candidates.map { ($0, distance(word.lowercased(), $0)) }
        guard let best = scored.min(by: { $0.1 < $1.1 }), best.1 <= max(1, best.0.count / 3) else {
            return nil
        }
        return best.0
    }

    /// Edit distance counting a swap of adjacent letters as one edit, the commonest typo
    /// ("nmae").
    static func distance(_ a: String, _ b: String) -> Int {
        let a = Array(a), b = Array(b)
        var table = Array(repeating: Array(repeating: 0, count: b.count + 1), count: a.count + 1)
        for i in 0...a.count { table[i][0] = i }
        for j in 0...b.count { table[0][j] = j }
        for i in stride(from: 1, through: a.count, by: 1) {
            for j in stride(from: 1, through: b.count, by: 1) {
                let cost = a[i - 1] == b[j - 1] ? 0 : 1
                table[i][j] = min(table[i - 1][j] + 1, table[i][j - 1] + 1, table[i - 1][j - 1] + cost)
                if i > 1, j > 1, a[i - 1] == b[j - 2], a[i - 2] == b[j - 1] {
                    table[i][j] = min(table[i][j], table[i - 2][j - 2] + 1)
                }
            }
        }
        return table[a.count][b.count]
    }
}

extension KeyedDecodingContainer {
    /// Decodes an integer via Double, because JSONDecoder reports a fractional or out-of-range
    /// number for an integer type with no path at all.
    func decodeInteger(forKey key: Key) throws -> Int {
        let value: Double
        do {
            value = try decode(Double.self, forKey: key)
        } catch DecodingError.typeMismatch(_, let context) {
            throw DecodingError.dataCorrupted(.init(
                codingPath: context.codingPath,
                debugDescription: "expected an integer" + DecodingProblem.found(in: context.debugDescription)))
        } catch DecodingError.valueNotFound(_, let context) {
            throw DecodingError.dataCorrupted(.init(
                codingPath: context.codingPath, debugDescription: "expected an integer, found null"))
        }
        guard value.isFinite, value.rounded(.towardZero) == value, abs(value) < 0x1p53 else {
            throw DecodingError.dataCorruptedError(
                forKey: key, in: self, debugDescription: "expected an integer, found \(value)")
        }
        return Int(value)
    }
}

enum DecodingProblem {
    /// One line naming the JSON path, e.g. `interfaces[2].ifindex: expected an integer, found a string`.
    static func describe(_ error: DecodingError) -> String {
        switch error {
        case .keyNotFound(let key, let context):
            return "\(where_(context.codingPath + [key])): required field is missing"
        case .typeMismatch(let type, let context):
            return "\(where_(context.codingPath)): expected \(phrase(for: type))\(found(in: context.debugDescription))"
        case .valueNotFound(let type, let context):
            return "\(where_(context.codingPath)): expected \(phrase(for: type)), found null"
        case .dataCorrupted(let context):
            return "\(where_(context.codingPath)): \(context.debugDescription)"
        @unknown default:
            return String(describing: error)
        }
    }

    private static func where_(_ path: [any CodingKey]) -> String {
        path.isEmpty ? "top level" : JSONPath.render(path)
    }

    private static func phrase(for type: Any.Type) -> String {
        switch type {
        case is String.Type: return "a string"
        case is Bool.Type: return "true or false"
        case is any BinaryInteger.Type: return "an integer"
        case is any BinaryFloatingPoint.Type: return "a number"
        default:
            let name = String(describing: type)
            if name.hasPrefix("Array") { return "an array" }
            if name.hasPrefix("Dictionary") { return "an object" }
            return name
        }
    }

    /// Recovers what JSONDecoder found from its debug text ("Expected to decode Int but found a
    /// string instead."), since the error carries no other record of it.
    static func found(in debugDescription: String) -> String {
        guard let start = debugDescription.firstRange(of: "but found "),
              let end = debugDescription[start.upperBound...].firstRange(of: " instead")
        else { return "" }
        let what = String(debugDescription[start.upperBound..<end.lowerBound])
        switch what {
        case "number": return ", found a number"
        case "bool": return ", found true or false"
        case "a dictionary": return ", found an object"
        case "null value", "null": return ", found null"
        default: return ", found \(what)"
        }
    }
}

// MARK: - JSON syntax

/// A strict RFC 8259 syntax check that reports where a file goes wrong. Only the shape of the
/// text is checked here; the meaning is left to Codable.
struct JSONSyntax {
    struct Problem: Error {
        let message: String
    }

    private let bytes: [UInt8]
    private var position = 0
    private var path: [any CodingKey] = []
    /// The schema is four levels deep; anything far deeper is not a host file, and
    /// recursion on it could exhaust the stack.
    private static let maximumDepth = 64

    static func check(_ bytes: [UInt8]) throws(Problem) {
        guard String(validating: bytes, as: UTF8.self) != nil else {
            throw Problem(message: "not valid UTF-8 text")
        }
        var checker = JSONSyntax(bytes: bytes)
        try checker.value(depth: 0)
        checker.skipWhitespace()
        if checker.position < bytes.count {
            throw checker.problem("unexpected \(checker.describeNext()) after the end of the JSON value")
        }
    }

    private init(bytes: [UInt8]) {
        self.bytes = bytes
    }

    private var next: UInt8? { position < bytes.count ? bytes[position] : nil }

    private mutating func skipWhitespace() {
        while let byte = next, byte == 0x20 || byte == 0x09 || byte == 0x0a || byte == 0x0d {
            position += 1
        }
    }

    private mutating func value(depth: Int) throws(Problem) {
        guard depth < JSONSyntax.maximumDepth else {
            throw problem("nested more than \(JSONSyntax.maximumDepth) levels deep")
        }
        skipWhitespace()
        guard let byte = next else { throw problem("expected a value, found end of input") }
        switch byte {
        case UInt8(ascii: "{"): try object(depth: depth)
        case UInt8(ascii: "["): try array(depth: depth)
        case UInt8(ascii: "\""): _ = try string()
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"): try number()
        case UInt8(ascii: "t"): try literal("true")
        case UInt8(ascii: "f"): try literal("false")
        case UInt8(ascii: "n"): try literal("null")
        default: throw problem("expected a value, found \(describeNext())")
        }
    }

    private mutating func object(depth: Int) throws(Problem) {
        position += 1
        skipWhitespace()
        if next == UInt8(ascii: "}") {
            position += 1
            return
        }
        var seen: Set<String> = []
        while true {
            skipWhitespace()
            guard next == UInt8(ascii: "\"") else {
                throw problem("expected a quoted field name, found \(describeNext())")
            }
            let keyStart = position
            let key = try string()
            guard seen.insert(key).inserted else {
                let location = at(keyStart)
                throw Problem(message: "\(JSONPath.render(path + [JSONKey(key)])): duplicate field (\(location))")
            }
            skipWhitespace()
            guard next == UInt8(ascii: ":") else {
                throw problem("expected ':' after field name, found \(describeNext())")
            }
            position += 1
            path.append(JSONKey(key))
            try value(depth: depth + 1)
            path.removeLast()
            skipWhitespace()
            switch next {
            case UInt8(ascii: ","): position += 1
            case UInt8(ascii: "}"):
                position += 1
                return
            default: throw problem("expected ',' or '}' after a field, found \(describeNext())")
            }
        }
    }

    private mutating func array(depth: Int) throws(Problem) {
        position += 1
        skipWhitespace()
        if next == UInt8(ascii: "]") {
            position += 1
            return
        }
        var index = 0
        while true {
            path.append(JSONKey(index))
            try value(depth: depth + 1)
            path.removeLast()
            skipWhitespace()
            switch next {
            case UInt8(ascii: ","): position += 1
            case UInt8(ascii: "]"):
                position += 1
                return
            default: throw problem("expected ',' or ']' after an array element, found \(describeNext())")
            }
            index += 1
        }
    }

    /// Returns the decoded text, needed to compare field names for duplicates.
    private mutating func string() throws(Problem) -> String {
        position += 1
        var scalars = String.UnicodeScalarView()
        var run: [UInt8] = []
        func flush() {
            scalars.append(contentsOf: String(decoding: run, as: UTF8.self).unicodeScalars)
            run.removeAll()
        }
        while true {
            guard let byte = next else { throw problem("unterminated string") }
            switch byte {
            case UInt8(ascii: "\""):
                position += 1
                flush()
                return String(scalars)
            case UInt8(ascii: "\\"):
                flush()
                position += 1
                guard let escape = next else { throw problem("unterminated string") }
                let simple: [UInt8: Unicode.Scalar] = [
                    UInt8(ascii: "\""): "\"", UInt8(ascii: "\\"): "\\", UInt8(ascii: "/"): "/",
                    UInt8(ascii: "b"): "\u{8}", UInt8(ascii: "f"): "\u{c}", UInt8(ascii: "n"): "\n",
                    UInt8(ascii: "r"): "\r", UInt8(ascii: "t"): "\t",
                ]
                if let scalar = simple[escape] {
                    scalars.append(scalar)
                    position += 1
                } else if escape == UInt8(ascii: "u") {
                    position += 1
                    var unit = try hex4()
                    if (0xd800..<0xdc00).contains(unit),
                       position + 1 < bytes.count, bytes[position] == UInt8(ascii: "\\"),
                       bytes[position + 1] == UInt8(ascii: "u") {
                        let save = position
                        position += 2
                        let low = try hex4()
                        if (0xdc00..<0xe000).contains(low) {
                            unit = 0x10000 + ((unit - 0xd800) << 10) + (low - 0xdc00)
                        } else {
                            position = save
                        }
                    }
                    scalars.append(Unicode.Scalar(unit) ?? "\u{fffd}")
                } else {
                    throw problem("invalid escape '\\\(describe(escape))' in string")
                }
            case 0..<0x20:
                throw problem("control character in string (write it as an escape such as \\n)")
            default:
                run.append(byte)
                position += 1
            }
        }
    }

    private mutating func hex4() throws(Problem) -> UInt32 {
        var value: UInt32 = 0
        for _ in 0..<4 {
            guard let byte = next, let digit = Character(Unicode.Scalar(byte)).hexDigitValue else {
                throw problem("expected four hex digits after \\u")
            }
            value = value << 4 | UInt32(digit)
            position += 1
        }
        return value
    }

    private mutating func number() throws(Problem) {
        func isDigit(_ byte: UInt8?) -> Bool { byte.map { (0x30...0x39).contains($0) } ?? false }
        if next == UInt8(ascii: "-") { position += 1 }
        guard isDigit(next) else { throw problem("expected a digit, found \(describeNext())") }
        if next == UInt8(ascii: "0") {
            position += 1
            if isDigit(next) { throw problem("numbers must not have leading zeros") }
        } else {
            while isDigit(next) { position += 1 }
        }
        if next == UInt8(ascii: ".") {
            position += 1
            guard isDigit(next) else { throw problem("expected a digit after '.', found \(describeNext())") }
            while isDigit(next) { position += 1 }
        }
        if next == UInt8(ascii: "e") || next == UInt8(ascii: "E") {
            position += 1
            if next == UInt8(ascii: "+") || next == UInt8(ascii: "-") { position += 1 }
            guard isDigit(next) else { throw problem("expected a digit in the exponent, found \(describeNext())") }
            while isDigit(next) { position += 1 }
        }
    }

    private mutating func literal(_ word: String) throws(Problem) {
        let expected = Array(word.utf8)
        guard bytes.count - position >= expected.count,
              Array(bytes[position..<position + expected.count]) == expected
        else {
            throw problem("expected a value, found \(describeNext())")
        }
        position += expected.count
    }

    private func describeNext() -> String {
        guard let byte = next else { return "end of input" }
        return "'\(describe(byte))'"
    }

    private func describe(_ byte: UInt8) -> String {
        if (0x21...0x7e).contains(byte) { return String(UnicodeScalar(byte)) }
        if byte >= 0x80 {
            // Show the whole character rather than its first byte.
            var end = position + 1
            while end < bytes.count, bytes[end] & 0xc0 == 0x80 { end += 1 }
            return String(decoding: bytes[position..<end], as: UTF8.self)
        }
        let hex = String(byte, radix: 16)
        return "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
    }

    private func at(_ offset: Int) -> String {
        var line = 1
        var column = 1
        for byte in bytes[..<min(offset, bytes.count)] {
            if byte == 0x0a {
                line += 1
                column = 1
            } else if byte & 0xc0 != 0x80 {
                column += 1
            }
        }
        return "line \(line), column \(column)"
    }

    private func problem(_ message: String) -> Problem {
        let location = at(position)
        return Problem(message: path.isEmpty
            ? "\(location): \(message)"
            : "\(location) (in \(JSONPath.render(path))): \(message)")
    }
}
