import Testing

@testable import FabricPolicy

/// The composer the policy and host readers stand on: what libyaml's events become.
@Suite("YAML documents")
struct YAMLDocumentTests {
    func root(_ text: String) throws -> YAMLNode {
        try #require(try YAMLDocument.compose(text).get().root)
    }

    func failure(_ text: String) -> YAMLDocument.Failure? {
        guard case .failure(let failure) = YAMLDocument.compose(text) else { return nil }
        return failure
    }

    @Test func nodesKeepTheirTextShapeAndPlace() throws {
        let node = try root("""
            name: san-a
            list:
              - 10.1.0.0/24
              - "fd00:a::/64"
            flow: {a: [1, 2], b: 'x'}
            """)
        let pairs = try #require(node.mapping)
        #expect(pairs.map { $0.key.text } == ["name", "list", "flow"])
        #expect(pairs[0].value.text == "san-a" && pairs[0].value.location == SourceLocation(line: 1, column: 7))
        let list = try #require(pairs[1].value.sequence)
        #expect(list.map(\.text) == ["10.1.0.0/24", "fd00:a::/64"])
        #expect(list.map(\.location) == [SourceLocation(line: 3, column: 5), SourceLocation(line: 4, column: 5)])
        #expect(list[1].style == .quoted)
        let flow = try #require(pairs[2].value.mapping)
        #expect(flow[0].value.sequence?.map(\.text) == ["1", "2"] && flow[1].value.text == "x")
        #expect(node.text == nil && node.sequence == nil && list[0].mapping == nil)
    }

    @Test func anEmptyStreamHasNoRoot() throws {
        #expect(try YAMLDocument.compose("").get().root == nil)
        #expect(try YAMLDocument.compose("# only a comment\n").get().root == nil)
    }

    @Test func scalarsResolveAsYAMLOneOneDoes() throws {
        let expected: [(String, YAMLNode.Resolved)] = [
            ("~", .null), ("null", .null), ("NULL", .null), ("''", .string), ("'null'", .string),
            ("true", .boolean), ("Off", .boolean), ("yes", .boolean), ("\"true\"", .string), ("!!str true", .string),
            ("12", .number), ("-3", .number), ("0x1F", .number), ("0o17", .number), ("017", .number), ("0b101", .number),
            ("1_000", .number), ("1:30", .number), ("1.5", .number), ("-1.5e+3", .number), (".5", .number), ("1e3", .number),
            (".inf", .number), ("-.Inf", .number), (".NaN", .number), ("!!int 12", .number),
            ("10.1.0.0/24", .string), ("1.2.3", .string), ("0x", .string), ("1:60", .string), ("e3", .string),
            ("-.5", .string), ("+", .string), ("eth0", .string), ("0:30", .string),
        ]
        for (text, resolution) in expected {
            let value = try #require(try root("[\(text)]").sequence?.first)
            #expect(value.resolved == resolution, "\(text)")
        }
        #expect(try root("[ON, no, maybe]").sequence?.map(\.bool) == [true, false, nil])
    }

    @Test func aliasesNameTheAnchoredNode() throws {
        let pairs = try #require(try root("a: &x {k: [1]}\nb: *x\nc: &s v\nd: *s\n").mapping)
        #expect(pairs[1].value.mapping?.first?.value.sequence?.map(\.text) == ["1"])
        #expect(pairs[3].value.text == "v" && pairs[3].value.location == SourceLocation(line: 3, column: 4))
        let undefined = try #require(failure("a: *nowhere\n"))
        #expect(undefined.reason == .syntax("found undefined alias") && undefined.line == 1 && undefined.column == 4)
        // An alias inside the collection it names is undefined there: no cycle can be built.
        #expect(failure("a: &x [*x]\n")?.reason == .syntax("found undefined alias"))
    }

    @Test func keysWrittenTwiceAreNamedAtTheirFirstPlace() throws {
        let repeated = try #require(failure("b: 1\na: 2\nb: 3\na: 4\nc: 5\n"))
        #expect(repeated.reason == .repeatedKeys(["a", "b"]))
        #expect(repeated.line == 2 && repeated.column == 1)
        // Equal text in different mappings is no repeat.
        #expect(failure("x: {a: 1}\ny: {a: 1}\n") == nil)
    }

    @Test func syntaxErrorsCarryLibyamlsWordsAndMark() throws {
        let open = try #require(failure("version: 1\nfabrics: [\n"))
        #expect(open.line == 3 && open.column == 1)
        guard case .syntax = open.reason else { Issue.record("\(open)"); return }
        #expect(failure("a: 1\n---\nb: 2\n")?.reason == .syntax("expected a single document, found another"))
        // The reader's refusals give the byte as a character, its position counted in characters.
        let control = try #require(failure("é: \u{1}\n"))
        #expect(control.reason == .encoding(problem: "control characters are not allowed", value: 1))
        #expect(control.line == 1 && control.column == 4)
    }
}
