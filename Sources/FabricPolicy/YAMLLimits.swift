import CYaml

/// The shape limits a policy or host file must meet before Yams builds a tree of it.
///
/// Why a separate pass: Yams' composer recurses once per nesting level (libyaml stops at
/// 1000 levels with a message naming a C function; a policy needs 4, so 64 is refused here in
/// the project's words), and it shares an anchored node among its aliases, so a
/// "billion laughs" file is small in memory but explodes wherever the tree is walked or hashed
/// (Yams hashes every mapping key to find duplicates: a key that is an alias of a bomb never
/// finishes). libyaml's own event parser is iterative with heap stacks, so one pass over its
/// events measures depth and what aliases expand to in bounded time and memory, and refuses
/// the file at the line and column where a limit is crossed. Syntax errors are left for the
/// real parse, which reports them in its own words. The pass costs a fraction of composing
/// (no nodes, no strings kept).
public enum YAMLLimits {
    /// Nesting depth (mappings and lists inside each other). A policy needs 4; JSON from
    /// `inventory --json` needs 4.
    public static let maximumDepth = 64
    /// Nodes reached through aliases, counting an alias as everything it names: a policy
    /// reusing a list of a million prefixes once is allowed, a billion laughs is not.
    public static let maximumAliasedNodes = 1_000_000
    /// Values (scalars, lists, mappings) in the file: Yams keeps a few hundred bytes per node,
    /// so a 50 MB file of `[a,a,a,…` would need gigabytes. The datapath holds 1,048,576
    /// prefixes per family, so no real policy has more than about 2.1 million values.
    public static let maximumNodes = 2_500_000

    static let depthMessage = "nested more than \(maximumDepth) levels deep (refused before parsing; a policy needs 4)"

    public struct Violation: Error, Equatable, Sendable {
        public var line: Int
        public var column: Int
        public var message: String
    }

    /// The first limit the text crosses, or nil.
    public static func check(_ text: String) -> Violation? {
        var text = text
        return text.withUTF8 { buffer in check(buffer) }
    }

    static func check(_ buffer: UnsafeBufferPointer<UInt8>) -> Violation? {
        var parser = yaml_parser_t()
        guard yaml_parser_initialize(&parser) == 1 else { return nil }
        defer { yaml_parser_delete(&parser) }
        yaml_parser_set_encoding(&parser, YAML_UTF8_ENCODING)
        yaml_parser_set_input_string(&parser, buffer.baseAddress, buffer.count)

        // Each open collection's anchor and node count so far; an anchor's count is
        // known when it closes (or at once for a scalar).
        var open: [(anchor: String?, nodes: Int)] = []
        var anchors: [String: Int] = [:]
        var aliased = 0
        var nodes = 0
        func add(_ nodes: Int) {
            if !open.isEmpty { open[open.count - 1].nodes = min(open[open.count - 1].nodes + nodes, Int.max / 4) }
        }
        func anchor(_ pointer: UnsafeMutablePointer<yaml_char_t>?) -> String? {
            pointer.map { String(cString: $0) }
        }

        var event = yaml_event_t()
        while true {
            guard yaml_parser_parse(&parser, &event) == 1 else {
                // libyaml's scanner has a nesting limit of its own (1000) and reaches it
                // while looking ahead, before the events show the depth: say it in these
                // words, not libyaml's (which name a C function).
                if let problem = parser.problem, String(cString: problem).hasPrefix("Maximum nesting level") {
                    return Violation(
                        line: Int(parser.problem_mark.line) + 1, column: Int(parser.problem_mark.column) + 1,
                        message: depthMessage)
                }
                // Any other syntax error: the real parse reports it.
                return nil
            }
            defer { yaml_event_delete(&event) }
            let mark = (line: Int(event.start_mark.line) + 1, column: Int(event.start_mark.column) + 1)
            if event.type == YAML_SCALAR_EVENT || event.type == YAML_SEQUENCE_START_EVENT || event.type == YAML_MAPPING_START_EVENT {
                nodes += 1
                if nodes > maximumNodes {
                    return Violation(
                        line: mark.line, column: mark.column,
                        message: "more than \(maximumNodes) values (refused before parsing; the datapath holds at most 1048576 prefixes per family)")
                }
            }
            switch event.type {
            case YAML_STREAM_END_EVENT:
                return nil
            case YAML_SCALAR_EVENT:
                if let name = anchor(event.data.scalar.anchor) { anchors[name] = 1 }
                add(1)
            case YAML_SEQUENCE_START_EVENT, YAML_MAPPING_START_EVENT:
                let name = event.type == YAML_SEQUENCE_START_EVENT
                    ? anchor(event.data.sequence_start.anchor) : anchor(event.data.mapping_start.anchor)
                open.append((name, 1))
                if open.count > maximumDepth {
                    return Violation(line: mark.line, column: mark.column, message: depthMessage)
                }
            case YAML_SEQUENCE_END_EVENT, YAML_MAPPING_END_EVENT:
                guard let closed = open.popLast() else { return nil }
                if let name = closed.anchor { anchors[name] = closed.nodes }
                add(closed.nodes)
            case YAML_ALIAS_EVENT:
                // An undefined alias is the real parse's error to report.
                let nodes = anchor(event.data.alias.anchor).flatMap { anchors[$0] } ?? 0
                aliased = min(aliased + nodes, Int.max / 4)
                if aliased > maximumAliasedNodes {
                    return Violation(
                        line: mark.line, column: mark.column,
                        message: "aliases expand to more than \(maximumAliasedNodes) nodes (refused before parsing: an alias bomb?)")
                }
                add(nodes)
            default:
                break
            }
        }
    }
}
