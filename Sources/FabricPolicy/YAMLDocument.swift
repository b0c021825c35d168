import CYaml
import FabricSystem

/// A YAML (or JSON) document composed from libyaml's events into flat arrays, in one pass that
/// also enforces `YAMLLimits`.
///
/// Why not Yams' `compose`: its tree keeps an enum, a `Tag` object, a mark and a `String` per
/// node, a few hundred bytes each, and a policy may list a million prefixes (177 MB and most
/// of a second for the tree alone, measured at 1M). Here a node is a 20-byte entry, scalars'
/// bytes sit in one buffer and become `String`s only when read, and the limits ride along in
/// the same event loop instead of a second parse of the text. libyaml still does all the
/// YAML: scanning, flow and block styles, quoting, escapes, anchors.
public final class YAMLDocument: Sendable {
    /// Why a text did not compose: a limit, a syntax error, or a semantic problem libyaml's
    /// parser leaves to composers (an undefined alias, a repeated key, a second document).
    public struct Failure: Error, Equatable, Sendable {
        public enum Reason: Equatable, Sendable {
            /// A `YAMLLimits` bound, in the project's words.
            case limit(String)
            /// libyaml's reader refused a byte (`value` is the character, or -1).
            case encoding(problem: String, value: Int)
            /// libyaml's scanner or parser, or a composer rule, in their words.
            case syntax(String)
            /// Keys written more than once in one mapping, sorted.
            case repeatedKeys([String])
        }

        public var line: Int
        public var column: Int
        public var reason: Reason
    }

    let entries: [Entry]
    let children: [UInt32]
    let bytes: [UInt8]
    let rootIndex: Int?

    private init(entries: [Entry], children: [UInt32], bytes: [UInt8], rootIndex: Int?) {
        self.entries = entries
        self.children = children
        self.bytes = bytes
        self.rootIndex = rootIndex
    }

    /// The document's root, nil for an empty stream.
    public var root: YAMLNode? { rootIndex.map { YAMLNode(document: self, index: $0) } }

    struct Entry {
        var line: UInt32
        var column: UInt32
        /// A scalar's first byte in `bytes`; a collection's first child in `children`.
        var start: UInt32
        /// A scalar's byte count; a sequence's items; a mapping's keys and values (twice its pairs).
        var count: UInt32
        var kind: YAMLNode.Kind
        var style: YAMLNode.Style
        var tag: YAMLNode.Tag

        /// A scalar's text, from the buffer its bytes are in.
        func text(in bytes: [UInt8]) -> String {
            bytes.withUnsafeBufferPointer {
                String(decoding: UnsafeBufferPointer(rebasing: $0[Int(start)..<Int(start + count)]), as: UTF8.self)
            }
        }
    }

    // MARK: Composing

    /// The document in `text`, or the first reason it cannot be one.
    public static func compose(_ text: String) -> Result<YAMLDocument, Failure> {
        var text = text
        return text.withUTF8 { compose($0) }
    }

    static func compose(_ buffer: UnsafeBufferPointer<UInt8>) -> Result<YAMLDocument, Failure> {
        var parser = yaml_parser_t()
        guard yaml_parser_initialize(&parser) == 1 else {
            return .failure(Failure(line: 1, column: 1, reason: .syntax("out of memory")))
        }
        defer { yaml_parser_delete(&parser) }
        yaml_parser_set_encoding(&parser, YAML_UTF8_ENCODING)
        yaml_parser_set_input_string(&parser, buffer.baseAddress, buffer.count)
        var composer = Composer(expecting: buffer.count)
        var event = yaml_event_t()
        while true {
            guard yaml_parser_parse(&parser, &event) == 1 else { return .failure(Failure(parser, in: buffer)) }
            defer { yaml_event_delete(&event) }
            switch composer.take(event) {
            case .more: continue
            case .failed(let failure): return .failure(failure)
            case .done: return .success(composer.document())
            }
        }
    }

    /// The event loop's state: the nodes so far, the collections still open and the anchors.
    private struct Composer {
        var entries: [Entry] = []
        var children: [UInt32] = []
        var bytes: [UInt8] = []
        var root: Int?
        var documents = 0
        /// Completed children of the open collections, innermost last.
        var pending: [UInt32] = []
        /// Each open collection: its entry, anchor, where its children start in `pending`, and
        /// how many nodes it holds counting what its aliases name (for the alias limit).
        var open: [(index: Int, anchor: String?, firstChild: Int, nodes: Int)] = []
        /// Each anchor's node and the nodes it holds.
        var anchors: [String: (index: Int, nodes: Int)] = [:]
        var nodes = 0
        var aliased = 0

        /// Room for the largest document a text of `size` bytes can be, reserved rather than
        /// grown: a reservation's untouched pages cost no memory, where each doubling of a
        /// million-entry array holds the old and the new copy at once.
        init(expecting size: Int) {
            let nodes = min(size / 2 + 1, YAMLLimits.maximumNodes)
            entries.reserveCapacity(nodes)
            children.reserveCapacity(nodes)
            pending.reserveCapacity(nodes)
            bytes.reserveCapacity(size)
        }

        enum Step { case more, done, failed(Failure) }

        func document() -> YAMLDocument {
            YAMLDocument(entries: entries, children: children, bytes: bytes, rootIndex: root)
        }

        mutating func take(_ event: yaml_event_t) -> Step {
            let line = Int(event.start_mark.line) + 1, column = Int(event.start_mark.column) + 1
            func fail(_ reason: Failure.Reason) -> Step { .failed(Failure(line: line, column: column, reason: reason)) }
            switch event.type {
            case YAML_STREAM_END_EVENT:
                return .done
            case YAML_DOCUMENT_START_EVENT:
                documents += 1
                if documents > 1 { return fail(.syntax("expected a single document, found another")) }
                return .more
            case YAML_SCALAR_EVENT:
                if let limit = countNode() { return fail(.limit(limit)) }
                let scalar = event.data.scalar
                let start = bytes.count
                if let value = scalar.value, scalar.length > 0 {
                    bytes.append(contentsOf: UnsafeBufferPointer(start: value, count: scalar.length))
                }
                let style: YAMLNode.Style =
                    switch scalar.style {
                    case YAML_PLAIN_SCALAR_STYLE, YAML_ANY_SCALAR_STYLE: .plain
                    case YAML_LITERAL_SCALAR_STYLE, YAML_FOLDED_SCALAR_STYLE: .block
                    default: .quoted
                    }
                let tag: YAMLNode.Tag = scalar.plain_implicit == 0 && scalar.quoted_implicit == 0
                    ? YAMLNode.Tag(scalar.tag) : .none
                let index = append(Entry(
                    line: UInt32(line), column: UInt32(column), start: UInt32(start), count: UInt32(scalar.length),
                    kind: .scalar, style: style, tag: tag))
                if let name = Self.name(scalar.anchor) { anchors[name] = (index, 1) }
                return attach(index, nodes: 1)
            case YAML_SEQUENCE_START_EVENT, YAML_MAPPING_START_EVENT:
                if let limit = countNode() { return fail(.limit(limit)) }
                let isSequence = event.type == YAML_SEQUENCE_START_EVENT
                let index = append(Entry(
                    line: UInt32(line), column: UInt32(column), start: 0, count: 0,
                    kind: isSequence ? .sequence : .mapping, style: .plain, tag: .none))
                let anchor = Self.name(isSequence ? event.data.sequence_start.anchor : event.data.mapping_start.anchor)
                open.append((index, anchor, pending.count, 1))
                if open.count > YAMLLimits.maximumDepth { return fail(.limit(YAMLLimits.depthMessage)) }
                return .more
            case YAML_SEQUENCE_END_EVENT, YAML_MAPPING_END_EVENT:
                guard let closed = open.popLast() else { return .more }
                let items = pending[closed.firstChild...]
                if entries[closed.index].kind == .mapping, let repeated = repeatedKeys(items) {
                    return .failed(Failure(line: repeated.line, column: repeated.column, reason: .repeatedKeys(repeated.keys)))
                }
                entries[closed.index].start = UInt32(children.count)
                entries[closed.index].count = UInt32(items.count)
                children.append(contentsOf: items)
                pending.removeSubrange(closed.firstChild...)
                if let name = closed.anchor { anchors[name] = (closed.index, closed.nodes) }
                return attach(closed.index, nodes: closed.nodes)
            case YAML_ALIAS_EVENT:
                guard let name = Self.name(event.data.alias.anchor), let target = anchors[name] else {
                    return fail(.syntax("found undefined alias"))
                }
                aliased = min(aliased + target.nodes, Int.max / 4)
                if aliased > YAMLLimits.maximumAliasedNodes { return fail(.limit(YAMLLimits.aliasMessage)) }
                return attach(target.index, nodes: target.nodes)
            default:
                return .more
            }
        }

        private mutating func countNode() -> String? {
            nodes += 1
            return nodes > YAMLLimits.maximumNodes ? YAMLLimits.valuesMessage : nil
        }

        private mutating func append(_ entry: Entry) -> Int {
            entries.append(entry)
            return entries.count - 1
        }

        /// Hands a completed node to the collection around it, or makes it the root.
        private mutating func attach(_ index: Int, nodes: Int) -> Step {
            guard !open.isEmpty else {
                root = index
                return .more
            }
            pending.append(UInt32(index))
            open[open.count - 1].nodes = min(open[open.count - 1].nodes + nodes, Int.max / 4)
            return .more
        }

        /// The keys written more than once among a mapping's alternating keys and values,
        /// sorted, with where the first of them was first written. Only scalar keys compare:
        /// any other key is an error the reader reports in its place.
        private func repeatedKeys(_ items: ArraySlice<UInt32>) -> (keys: [String], line: Int, column: Int)? {
            var seen: [String: Int] = [:]
            var repeated: Set<String> = []
            for position in stride(from: items.startIndex, to: items.endIndex, by: 2) {
                let key = Int(items[position])
                guard entries[key].kind == .scalar else { continue }
                let text = entries[key].text(in: bytes)
                if seen[text] == nil { seen[text] = key } else { repeated.insert(text) }
            }
            guard let first = repeated.min(), let key = seen[first] else { return nil }
            return (repeated.sorted(), Int(entries[key].line), Int(entries[key].column))
        }

        static func name(_ pointer: UnsafeMutablePointer<yaml_char_t>?) -> String? {
            pointer.map { String(cString: $0) }
        }
    }
}

extension YAMLDocument.Failure {
    /// libyaml's own error, at its problem's mark. Its scanner's nesting limit (1000, reached
    /// while looking ahead, before the events show the depth) is said in the project's words.
    init(_ parser: yaml_parser_t, in text: UnsafeBufferPointer<UInt8>) {
        let problem = parser.problem.map { String(cString: $0) } ?? "unknown error"
        line = Int(parser.problem_mark.line) + 1
        column = Int(parser.problem_mark.column) + 1
        switch parser.error {
        case YAML_READER_ERROR:
            // The reader gives a byte offset, not a mark.
            (line, column) = TextFile.position(ofByte: parser.problem_offset, in: text)
            reason = .encoding(problem: problem, value: Int(parser.problem_value))
        case _ where problem.hasPrefix("Maximum nesting level"):
            reason = .limit(YAMLLimits.depthMessage)
        default:
            reason = .syntax(problem)
        }
    }
}

/// One node of a `YAMLDocument`: a scalar, a sequence or a mapping. Aliases are resolved to
/// the node they name.
public struct YAMLNode {
    public enum Kind: UInt8, Sendable { case scalar, sequence, mapping }
    /// How a scalar was written: only a plain one resolves to null, a boolean or a number.
    public enum Style: UInt8, Sendable { case plain, quoted, block }
    /// An explicit tag (`!!str 1`), which overrides resolution.
    public enum Tag: UInt8, Sendable {
        case none, string, number, boolean, null, other

        init(_ pointer: UnsafeMutablePointer<yaml_char_t>?) {
            guard let pointer else {
                self = .none
                return
            }
            switch String(cString: pointer) {
            case "tag:yaml.org,2002:str": self = .string
            case "tag:yaml.org,2002:int", "tag:yaml.org,2002:float": self = .number
            case "tag:yaml.org,2002:bool": self = .boolean
            case "tag:yaml.org,2002:null": self = .null
            case "!": self = .string
            default: self = .other
            }
        }
    }

    let document: YAMLDocument
    let index: Int

    private var entry: YAMLDocument.Entry { document.entries[index] }

    public var kind: Kind { entry.kind }
    public var style: Style { entry.style }
    public var tag: Tag { entry.tag }

    /// Where the node starts, 1-based.
    public var location: SourceLocation {
        let entry = entry
        return SourceLocation(line: Int(entry.line), column: Int(entry.column))
    }

    /// A scalar's text; nil for a collection.
    public var text: String? {
        let entry = entry
        return entry.kind == .scalar ? entry.text(in: document.bytes) : nil
    }

    /// A sequence's items; nil for anything else.
    public var sequence: Items? {
        let entry = entry
        guard entry.kind == .sequence else { return nil }
        return Items(document: document, start: Int(entry.start), count: Int(entry.count), step: 1)
    }

    /// A mapping's pairs in the order written; nil for anything else.
    public var mapping: Pairs? {
        let entry = entry
        guard entry.kind == .mapping else { return nil }
        return Pairs(items: Items(document: document, start: Int(entry.start), count: Int(entry.count) / 2, step: 2))
    }

    /// Nodes held by a collection, without copying them out of the document.
    public struct Items: RandomAccessCollection {
        let document: YAMLDocument
        let start: Int
        public let count: Int
        let step: Int

        public var startIndex: Int { 0 }
        public var endIndex: Int { count }
        public subscript(position: Int) -> YAMLNode {
            YAMLNode(document: document, index: Int(document.children[start + position * step]))
        }
    }

    public struct Pairs: RandomAccessCollection {
        let items: Items

        public var startIndex: Int { 0 }
        public var endIndex: Int { items.count }
        public subscript(position: Int) -> (key: YAMLNode, value: YAMLNode) {
            let key = items[position]
            return (key, YAMLNode(document: items.document, index: Int(items.document.children[items.start + position * 2 + 1])))
        }
    }

    // MARK: Resolution

    /// What a scalar means to YAML 1.1's resolution (as Yams' default resolver has it): under
    /// it JSON's literals mean what they do in JSON.
    public enum Resolved: Sendable { case string, number, boolean, null }

    /// A scalar's resolution; nil for a collection.
    public var resolved: Resolved? {
        guard let text else { return nil }
        switch tag {
        case .string, .other: return .string
        case .number: return .number
        case .boolean: return .boolean
        case .null: return .null
        case .none: break
        }
        guard style == .plain else { return .string }
        if Self.nulls.contains(text) { return .null }
        if Self.trues.contains(text) || Self.falses.contains(text) { return .boolean }
        if Self.spellsNumber(text) { return .number }
        return .string
    }

    /// A boolean scalar's value; nil for anything that does not spell one.
    public var bool: Bool? {
        guard let text else { return nil }
        return Self.trues.contains(text) ? true : Self.falses.contains(text) ? false : nil
    }

    static let nulls: Set<String> = ["", "~", "null", "Null", "NULL"]
    static let trues: Set<String> = ["yes", "Yes", "YES", "true", "True", "TRUE", "on", "On", "ON"]
    static let falses: Set<String> = ["no", "No", "NO", "false", "False", "FALSE", "off", "Off", "OFF"]

    /// YAML 1.1's int and float forms (Yams' default resolver's patterns): decimal with `_`,
    /// `0b`, `0o`/leading-zero octal, `0x`, sexagesimal `1:30`, exponents, `.inf` and `.nan`.
    static func spellsNumber(_ text: String) -> Bool {
        if [".nan", ".NaN", ".NAN"].contains(text) { return true }
        let signed = text.hasPrefix("-") || text.hasPrefix("+")
        let unsigned = signed ? text.dropFirst() : Substring(text)
        func all(_ part: Substring, _ allowed: (Character) -> Bool) -> Bool { !part.isEmpty && part.allSatisfy(allowed) }
        let digit = { (c: Character) in c.isASCII && c.isNumber }
        let digitOrMark = { (c: Character) in digit(c) || c == "_" }
        /// `[0-9][0-9_]*`
        func decimal(_ part: Substring) -> Bool { part.first.map(digit) == true && part.allSatisfy(digitOrMark) }
        /// `[0-5]?[0-9]`
        func sixty(_ part: Substring) -> Bool {
            part.count == 1 ? digit(part.first!) : part.count == 2 && "012345".contains(part.first!) && digit(part.last!)
        }
        if [".inf", ".Inf", ".INF"].contains(unsigned) { return true }
        for (prefix, allowed) in [("0b", "01_"), ("0o", "01234567_"), ("0x", "0123456789abcdefABCDEF_")] where unsigned.hasPrefix(prefix) {
            if all(unsigned.dropFirst(2), { allowed.contains($0) }) { return true }
        }
        let parts = unsigned.split(separator: ":", omittingEmptySubsequences: false)
        if parts.count > 1 {
            guard decimal(parts[0]), parts.dropFirst().dropLast().allSatisfy(sixty) else { return false }
            let last = parts[parts.count - 1].split(separator: ".", maxSplits: 1, omittingEmptySubsequences: false)
            if last.count == 2 { return sixty(last[0]) && last[1].allSatisfy(digitOrMark) }
            return sixty(last[0]) && parts[0].first != "0"
        }
        // `[0-9][0-9_]*(\.[0-9_]*)?([eE][-+]?[0-9]+)?`, or unsigned `\.[0-9_]+([eE][-+][0-9]+)?`
        var mantissa = unsigned, exponent: Substring?
        if let e = unsigned.firstIndex(where: { $0 == "e" || $0 == "E" }) {
            mantissa = unsigned[..<e]
            exponent = unsigned[unsigned.index(after: e)...]
        }
        let point = mantissa.split(separator: ".", maxSplits: 1, omittingEmptySubsequences: false)
        let whole = point[0], fraction = point.count == 2 ? point[1] : nil
        if let exponent {
            let hasSign = exponent.hasPrefix("-") || exponent.hasPrefix("+")
            let digits = hasSign ? exponent.dropFirst() : exponent
            guard all(digits, digit), whole.isEmpty ? hasSign : true else { return false }
        }
        if whole.isEmpty { return !signed && fraction.map { all($0, digitOrMark) } == true }
        return decimal(whole) && (fraction?.allSatisfy(digitOrMark) ?? true)
    }
}
