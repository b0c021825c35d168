import FabricFixtures
import FabricPolicy
import Testing

@Suite("Policy loading and validation")
struct PolicyLoaderTests {
    /// Every diagnostic of a policy that must fail, as printed.
    func problems(_ yaml: String) -> [String] {
        do {
            _ = try PolicyLoader.parse(yaml: yaml, file: "p.yaml")
            Issue.record("the policy was accepted")
            return []
        } catch {
            return error.diagnostics.map(\.description)
        }
    }

    @Test func theSpecExampleLoads() throws {
        let policy = try PolicyLoader.parse(yaml: TwoFabricWorld.policyYAML, file: "p.yaml")
        #expect(policy.version == 1)
        #expect(policy.fabrics.map(\.name) == ["san-a", "san-b"])
        #expect(policy.fabrics[0].prefixes.map(\.description) == ["10.1.0.0/24", "fd00:a::/64"])
        #expect(policy.fabrics[1].effectiveEgress(policy.egress) == EgressSettings(mode: .enforce, action: .redirect, unowned: .pass))
        #expect(policy.fabrics[0].effectiveEgress(policy.egress) == EgressSettings(mode: .enforce, action: .drop, unowned: .pass))
        #expect(policy.ingress.checks == [.source, .destination])
        #expect(policy.exempt.map(\.description) == ["0.0.0.0/32", "::/128", "fe80::/10"])
        #expect(policy.management == ["eth0"])
        #expect(policy.source.location(of: "fabrics[1].prefixes[0]") == SourceLocation(line: 8, column: 16))
    }

    @Test func defaultsWhenSettingsAreOmitted() throws {
        let policy = try PolicyLoader.parse(yaml: """
            version: 1
            fabrics:
              - { name: a, interfaces: [e0], prefixes: [10.0.0.0/8] }
            """)
        #expect(policy.egress == EgressSettings(mode: .enforce, action: .drop, unowned: .pass))
        #expect(policy.ingress == IngressSettings(mode: .enforce, checks: [.source, .destination], action: .drop))
        #expect(policy.exempt.isEmpty && policy.management.isEmpty)
    }

    @Test func yamlBooleansStayWords() throws {
        // YAML 1.1 reads `off` as false; the policy means the mode.
        let policy = try PolicyLoader.parse(yaml: """
            version: 1
            fabrics: [{ name: a, interfaces: [e0], prefixes: [10.0.0.0/8], ingress: { mode: off } }]
            """)
        #expect(policy.fabrics[0].ingress.mode == .off)
    }

    @Test func malformedCIDRsSayWhichAndWhy() {
        #expect(problems("""
            version: 1
            fabrics:
              - name: a
                interfaces: [e0]
                prefixes: [10.1.0.5/24, 10.1.0.0/33, 10.1.0.0, 10.1.300.0/24, "fd00::1/64", 10.3.0.0/x]
            """) == [
                "p.yaml:5:16: fabrics[0].prefixes[0]: '10.1.0.5/24': host bits are set (did you mean 10.1.0.0/24?)",
                "p.yaml:5:29: fabrics[0].prefixes[1]: '10.1.0.0/33': prefix length 33 exceeds 32",
                "p.yaml:5:42: fabrics[0].prefixes[2]: '10.1.0.0': has no prefix length (write 10.1.0.0/32 or 10.1.0.0/128 for a single address)",
                "p.yaml:5:52: fabrics[0].prefixes[3]: '10.1.300.0/24': '10.1.300.0' is not an IPv4 or IPv6 address",
                "p.yaml:5:67: fabrics[0].prefixes[4]: 'fd00::1/64': host bits are set (did you mean fd00::/64?)",
                "p.yaml:5:81: fabrics[0].prefixes[5]: '10.3.0.0/x': 'x' is not a prefix length",
            ])
    }

    @Test func overlappingPrefixesOfTwoFabrics() {
        #expect(problems("""
            version: 1
            fabrics:
              - name: a
                interfaces: [e0]
                prefixes: [10.1.0.0/16, "fd00::/64"]
              - name: b
                interfaces: [e1]
                prefixes: [10.1.2.0/24, "fd00::/64", 10.2.0.0/16]
            """) == [
                "p.yaml:8:16: fabrics[1].prefixes[0]: 10.1.2.0/24 overlaps 10.1.0.0/16, owned by fabric 'a' (fabrics[0].prefixes[0], line 5); a prefix has one owner",
                "p.yaml:8:29: fabrics[1].prefixes[1]: fd00::/64 is also owned by fabric 'a' (fabrics[0].prefixes[1], line 5); a prefix has one owner",
            ])
    }

    @Test func aPrefixListedTwiceInOneFabric() {
        #expect(problems("""
            version: 1
            fabrics: [{ name: a, interfaces: [e0], prefixes: [10.1.0.0/24, 10.1.0.0/24] }]
            """) == [
                "p.yaml:2:64: fabrics[0].prefixes[1]: 10.1.0.0/24 is listed twice in fabric 'a' (also fabrics[0].prefixes[0])"
            ])
    }

    @Test func anInterfaceInTwoFabricsOrInManagement() {
        #expect(problems("""
            version: 1
            fabrics:
              - { name: a, interfaces: [e0, e1], prefixes: [10.1.0.0/24] }
              - { name: b, interfaces: [e1, e1], prefixes: [10.2.0.0/24] }
              - { name: c, interfaces: [eth0], prefixes: [10.3.0.0/24] }
            management: [eth0]
            """) == [
                "p.yaml:4:29: fabrics[1].interfaces[0]: interface 'e1' already belongs to fabric 'a' (fabrics[0].interfaces[1]); an interface belongs to one fabric",
                "p.yaml:4:33: fabrics[1].interfaces[1]: interface 'e1' already belongs to fabric 'a' (fabrics[0].interfaces[1]); an interface belongs to one fabric",
                "p.yaml:5:29: fabrics[2].interfaces[0]: interface 'eth0' is listed in management, so it can never belong to a fabric",
            ])
    }

    @Test func unknownKeysAreErrorsWithSuggestions() {
        #expect(problems("""
            version: 1
            fabrics:
              - name: a
                interfaces: [e0]
                prefix: [10.1.0.0/24]
            egres: { mode: enforce }
            ingress: { mode: enforce, check: [source] }
            """) == [
                "p.yaml:3:5: fabrics[0].prefixes: missing (list the prefixes this fabric owns, e.g. `prefixes: [10.1.0.0/24]`)",
                "p.yaml:5:5: fabrics[0].prefix: unknown key 'prefix' (did you mean 'prefixes'?); allowed here: name, interfaces, prefixes, egress, ingress",
                "p.yaml:6:1: egres: unknown key 'egres' (did you mean 'egress'?); allowed here: version, fabrics, egress, ingress, exempt, management, events",
                "p.yaml:7:27: ingress.check: unknown key 'check' (did you mean 'checks'?); allowed here: mode, checks, action",
            ])
    }

    @Test func eventBudgetDefaultsAndBounds() throws {
        let minimal = "version: 1\nfabrics: [{name: a, interfaces: [e0], prefixes: [10.1.0.0/24]}]\n"
        #expect(try PolicyLoader.parse(yaml: minimal).events == EventSettings(rate: 100, burst: 200))
        #expect(try PolicyLoader.parse(yaml: minimal + "events: {rate: 0}").events == EventSettings(rate: 0, burst: 200))
        #expect(problems(minimal + "events: {rate: -1, burst: 0, limit: 3}") == [
            "p.yaml:3:16: events.rate: -1 is out of range (events per second per interface and reason, 0 to 1000000; 0 turns events off)",
            "p.yaml:3:27: events.burst: 0 is out of range (1 to 1000000 events)",
            "p.yaml:3:30: events.limit: unknown key 'limit'; allowed here: rate, burst",
        ])
    }

    @Test func unknownEnumValues() {
        #expect(problems("""
            version: 1
            fabrics: [{ name: a, interfaces: [e0], prefixes: [10.1.0.0/24], egress: { action: reroute } }]
            egress: { mode: enforcing, unowned: allow }
            ingress: { checks: [source, dest], action: redirect }
            """) == [
                "p.yaml:2:83: fabrics[0].egress.action: unknown value 'reroute' (expected one of: drop, redirect)",
                "p.yaml:3:17: egress.mode: unknown value 'enforcing' (expected one of: off, audit, enforce)",
                "p.yaml:3:37: egress.unowned: unknown value 'allow' (expected one of: pass, drop)",
                "p.yaml:4:29: ingress.checks[1]: unknown value 'dest' (expected one of: source, destination)",
                "p.yaml:4:44: ingress.action: redirect is egress-only; ingress violations can only be dropped",
            ])
    }

    @Test func missingOrUnsupportedVersion() {
        #expect(problems("fabrics: [{ name: a, interfaces: [e0], prefixes: [10.1.0.0/24] }]\n") == [
            "p.yaml:1:1: version: missing (add `version: 1` at the top of the policy)"
        ])
        #expect(problems("version: 2\nfabrics: [{ name: a, interfaces: [e0], prefixes: [10.1.0.0/24] }]\n") == [
            "p.yaml:1:10: version: unsupported version 2 (this fabricguard reads version 1)"
        ])
    }

    @Test func emptyFabrics() {
        #expect(problems("""
            version: 1
            fabrics:
              - { name: a, interfaces: [], prefixes: [10.1.0.0/24] }
              - { name: b, interfaces: [e1], prefixes: [] }
              - { name: c }
            """) == [
                "p.yaml:3:28: fabrics[0].interfaces: fabric 'a' lists no interface",
                "p.yaml:4:44: fabrics[1].prefixes: fabric 'b' owns no prefix",
                "p.yaml:5:5: fabrics[2].interfaces: missing (list the interfaces of this fabric, e.g. `interfaces: [ens1f0]`)",
                "p.yaml:5:5: fabrics[2].prefixes: missing (list the prefixes this fabric owns, e.g. `prefixes: [10.1.0.0/24]`)",
            ])
        #expect(problems("version: 1\nfabrics: []\n") == ["p.yaml:2:10: fabrics: no fabric is declared"])
    }

    @Test func namesAndShapes() {
        #expect(problems("""
            version: 1
            fabrics:
              - { name: san a, interfaces: [averyveryverylongname0], prefixes: 10.1.0.0/24 }
              - { name: san-b, interfaces: [e1], prefixes: [10.2.0.0/24] }
              - { name: san-b, interfaces: [e2], prefixes: [10.3.0.0/24] }
            """) == [
                "p.yaml:3:13: fabrics[0].name: 'san a' is not a valid fabric name: use 1-32 letters, digits, '-', '_' or '.', starting with a letter or digit",
                "p.yaml:3:33: fabrics[0].interfaces[0]: 'averyveryverylongname0' is not a valid interface name: longer than 15 bytes",
                "p.yaml:3:68: fabrics[0].prefixes: expected a list such as [a, b], found '10.1.0.0/24'",
                "p.yaml:5:13: fabrics[2].name: fabric 'san-b' is declared twice (first as fabrics[1])",
            ])
    }

    @Test func yamlSyntaxAndDuplicateKeys() {
        #expect(problems("version: 1\nfabrics: [\n") .count == 1)
        #expect(problems("version: 1\nfabrics: [\n").first?.hasPrefix("p.yaml:3:1: not valid YAML:") == true)
        #expect(problems("version: 1\nversion: 1\nfabrics: []\n").first?.contains("key written twice in one mapping: version") == true)
        #expect(problems("") == ["p.yaml:1:1: the policy is empty (it needs at least `version: 1` and `fabrics:`)"])
        #expect(problems("- a\n- b\n").first?.hasPrefix("p.yaml:1:1: expected a mapping with keys version, fabrics") == true)
    }

    @Test func everyErrorInOnePass() {
        // Five independent mistakes, five diagnostics: the loader never stops at the first.
        let found = problems("""
            version: 1
            fabrics:
              - { name: a, interfaces: [e0], prefixes: [10.1.0.1/24] }
              - { name: b, interfaces: [e0], prefixes: [10.1.0.0/24], egress: { mode: loud } }
            exempt: [fe80::/100x]
            managment: [eth0]
            """)
        #expect(found.count == 5, "\(found)")
    }

    @Test func unreadableFileNamesPathAndErrno() {
        do {
            _ = try PolicyLoader.load(path: "/nonexistent/fabrics.yaml")
            Issue.record("loaded a missing file")
        } catch {
            #expect(error.diagnostics.map(\.description) == [
                "/nonexistent/fabrics.yaml:1:1: read policy /nonexistent/fabrics.yaml: No such file or directory (errno 2)"
            ])
        }
    }
}

/// The limits, on text: each refusal at the line and column where it is crossed.
@Suite("YAML limits while composing")
struct YAMLLimitsTests {
    /// The limit the text crosses, nil when it composes or fails for another reason.
    func check(_ text: String) -> (line: Int, column: Int, message: String)? {
        guard case .failure(let failure) = YAMLDocument.compose(text), case .limit(let message) = failure.reason else { return nil }
        return (failure.line, failure.column, message)
    }

    @Test func ordinaryPoliciesPass() throws {
        #expect(try YAMLDocument.compose(FixtureText.policy).get().root != nil)
        // Aliases that expand modestly are fine: a prefix list reused once.
        let reused = try YAMLDocument.compose("a: &p [10.1.0.0/24, 10.2.0.0/24]\nb: *p\n").get()
        let pairs = try #require(reused.root?.mapping)
        #expect(pairs.map { $0.value.sequence?.map { $0.text } } == Array(repeating: ["10.1.0.0/24", "10.2.0.0/24"], count: 2))
    }

    @Test func depthIsCountedInEveryStyle() throws {
        let limit = YAMLLimits.maximumDepth
        #expect(check(String(repeating: "[", count: limit) + String(repeating: "]", count: limit)) == nil)
        let flow = try #require(check(String(repeating: "[", count: limit + 1) + String(repeating: "]", count: limit + 1)))
        #expect(flow.line == 1 && flow.column == limit + 1 && flow.message.hasPrefix("nested more than 64 levels deep"))
        let block = try #require(check(String(repeating: "- ", count: limit + 1) + "x\n"))
        #expect(block.line == 1 && block.column == 2 * limit + 1)
        let indented = (0...limit).map { String(repeating: " ", count: $0) + "a:" }.joined(separator: "\n") + " 1\n"
        #expect(check(indented)?.line == limit + 1)
        // libyaml's scanner stops at 1000 while looking ahead: said in the same words.
        #expect(check(String(repeating: "[", count: 2000))?.message.hasPrefix("nested more than 64 levels deep") == true)
    }

    @Test func aliasExpansionIsBounded() throws {
        // Each level names the one below ten times: level 6 passes a million nodes.
        var lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
        for level in 1...8 {
            lines.append("a\(level): &a\(level) [" + Array(repeating: "*a\(level - 1)", count: 10).joined(separator: ", ") + "]")
        }
        let bomb = try #require(check(lines.joined(separator: "\n")))
        #expect(bomb.line == 6 && bomb.message.hasPrefix("aliases expand to more than 1000000 nodes"))
        #expect(check(lines.prefix(5).joined(separator: "\n")) == nil)
    }

    /// A file under the size cap can still hold millions of one-byte values.
    @Test func valuesAreCounted() throws {
        let limit = YAMLLimits.maximumNodes
        // The document's mapping and list, the key, and the items.
        let fits = "x: [" + String(repeating: "a,", count: limit - 4) + "a]"
        #expect(check(fits) == nil)
        let over = try #require(check("x: [" + String(repeating: "a,", count: limit - 3) + "a]"))
        #expect(over.message.hasPrefix("more than 2500000 values"))
        #expect(over.line == 1 && over.column == 5 + 2 * (limit - 3))
    }

    @Test func theLoaderReportsTheLimitAtItsPosition() {
        do {
            _ = try PolicyLoader.parse(yaml: "version: 1\nfabrics: " + String(repeating: "[", count: 100), file: "deep.yaml")
            Issue.record("a 100-deep policy was read")
        } catch {
            #expect(error.diagnostics.count == 1)
            #expect(error.diagnostics.first?.description.hasPrefix("deep.yaml:2:") == true, "\(error)")
            #expect(error.diagnostics.first?.message.contains("nested more than 64 levels deep") == true)
        }
    }
}

private enum FixtureText {
    static let policy = """
        version: 1
        fabrics:
          - name: san-a
            interfaces: [sana0, sana1]
            prefixes: [10.1.0.0/24, "fd00:a::/64"]
        egress: { mode: enforce, action: redirect }
        exempt: [0.0.0.0/32, "fe80::/10"]
        """
}

@Suite("Integers as written")
struct StrictIntegerTests {
    @Test(arguments: ["01", "+1", "0x1", "1_0", "1.0", "-0"])
    func aVersionIsDecimal(_ text: String) {
        do {
            _ = try PolicyLoader.parse(
                yaml: "version: \(text)\nfabrics:\n  - { name: a, interfaces: [e0], prefixes: [10.1.0.0/24] }\n", file: "v.yaml")
            Issue.record("version: \(text) was read")
        } catch {
            #expect(error.diagnostics.first?.field == "version", "\(error)")
        }
    }

    @Test func anOctalLookingNumberSaysWhy() {
        do {
            _ = try PolicyLoader.parse(yaml: "version: 010\nfabrics: []\n", file: "v.yaml")
            Issue.record("version: 010 was read")
        } catch {
            #expect(error.diagnostics.contains { $0.message == "expected an integer, found '010' (leading zeros are not allowed)" }, "\(error)")
        }
    }
}
