/// A validated fabricguard policy (docs/policy.md). Values of this type only
/// come out of `PolicyLoader`, so every invariant the loader checks holds here:
/// unique fabric names, each interface in at most one fabric and never in
/// `management`, no prefix owned by two fabrics, prefixes without host bits.
public struct Policy: Sendable, Equatable {
    public var version: Int
    public var fabrics: [Fabric]
    public var egress: EgressSettings
    public var ingress: IngressSettings
    public var exempt: [IPPrefix]
    public var management: [String]
    public var events: EventSettings
    /// Where each field was written, so later stages (host validation) can
    /// point at the same file:line:column as the loader does.
    public var source: PolicySource

    public init(
        version: Int = 1, fabrics: [Fabric], egress: EgressSettings = .init(),
        ingress: IngressSettings = .init(), exempt: [IPPrefix] = [], management: [String] = [],
        events: EventSettings = .init(), source: PolicySource = .init(file: "<memory>")
    ) {
        self.events = events
        self.version = version
        self.fabrics = fabrics
        self.egress = egress
        self.ingress = ingress
        self.exempt = exempt
        self.management = management
        self.source = source
    }

    public func fabric(named name: String) -> Fabric? { fabrics.first { $0.name == name } }

    /// The fabric that lists `interface`, if any.
    public func fabric(listing interface: String) -> Fabric? {
        fabrics.first { $0.interfaces.contains(interface) }
    }
}

public struct Fabric: Sendable, Equatable {
    public var name: String
    public var interfaces: [String]
    public var prefixes: [IPPrefix]
    public var egress: EgressOverride
    public var ingress: IngressOverride

    public init(
        name: String, interfaces: [String], prefixes: [IPPrefix],
        egress: EgressOverride = .init(), ingress: IngressOverride = .init()
    ) {
        self.name = name
        self.interfaces = interfaces
        self.prefixes = prefixes
        self.egress = egress
        self.ingress = ingress
    }

    public func effectiveEgress(_ global: EgressSettings) -> EgressSettings {
        EgressSettings(
            mode: egress.mode ?? global.mode, action: egress.action ?? global.action,
            unowned: egress.unowned ?? global.unowned)
    }

    public func effectiveIngress(_ global: IngressSettings) -> IngressSettings {
        IngressSettings(
            mode: ingress.mode ?? global.mode, checks: ingress.checks ?? global.checks,
            action: ingress.action ?? global.action)
    }
}

public enum Mode: String, Sendable, CaseIterable, Codable {
    /// The hook is not attached.
    case off
    /// Violations pass but are counted as would_drop / would_redirect.
    case audit
    case enforce
}

public enum ViolationAction: String, Sendable, CaseIterable, Codable {
    case drop
    /// Egress only: send the frame out of the owning fabric's interface.
    case redirect
}

public enum UnownedAction: String, Sendable, CaseIterable, Codable {
    case pass
    case drop
}

public enum IngressCheck: String, Sendable, CaseIterable, Codable, Comparable {
    case source
    case destination

    public static func < (lhs: IngressCheck, rhs: IngressCheck) -> Bool {
        allCases.firstIndex(of: lhs)! < allCases.firstIndex(of: rhs)!
    }
}

public struct EgressSettings: Sendable, Equatable, Codable {
    public var mode: Mode
    public var action: ViolationAction
    public var unowned: UnownedAction

    public init(mode: Mode = .enforce, action: ViolationAction = .drop, unowned: UnownedAction = .pass) {
        self.mode = mode
        self.action = action
        self.unowned = unowned
    }
}

public struct IngressSettings: Sendable, Equatable, Codable {
    public var mode: Mode
    /// Sorted and without duplicates.
    public var checks: [IngressCheck]
    /// Always `.drop`: ingress cannot redirect. Kept so a policy may say so explicitly.
    public var action: ViolationAction

    public init(mode: Mode = .enforce, checks: [IngressCheck] = IngressCheck.allCases, action: ViolationAction = .drop) {
        self.mode = mode
        self.checks = Array(Set(checks)).sorted()
        self.action = action
    }
}

/// How many violation events the programs send: a token bucket per
/// (interface, reason), `rate` a second with bursts of `burst`. What the bucket
/// refuses is counted as suppressed; `rate: 0` turns events off.
public struct EventSettings: Sendable, Equatable, Codable {
    public var rate: Int
    public var burst: Int

    public static let rates = 0...1_000_000
    public static let bursts = 1...1_000_000

    public init(rate: Int = 100, burst: Int = 200) {
        self.rate = rate
        self.burst = burst
    }
}

/// A per-fabric override: every field that is nil inherits the global setting.
public struct EgressOverride: Sendable, Equatable {
    public var mode: Mode?
    public var action: ViolationAction?
    public var unowned: UnownedAction?

    public init(mode: Mode? = nil, action: ViolationAction? = nil, unowned: UnownedAction? = nil) {
        self.mode = mode
        self.action = action
        self.unowned = unowned
    }
}

public struct IngressOverride: Sendable, Equatable {
    public var mode: Mode?
    public var checks: [IngressCheck]?
    public var action: ViolationAction?

    public init(mode: Mode? = nil, checks: [IngressCheck]? = nil, action: ViolationAction? = nil) {
        self.mode = mode
        self.checks = checks.map { Array(Set($0)).sorted() }
        self.action = action
    }
}

/// A position in a policy file (1-based, columns in Unicode scalars as libyaml counts them).
public struct SourceLocation: Sendable, Equatable, Hashable {
    public var line: Int
    public var column: Int

    public init(line: Int, column: Int) {
        self.line = line
        self.column = column
    }
}

public struct PolicySource: Sendable, Equatable {
    public var file: String
    /// Field path ("fabrics[0].interfaces") to where its value starts.
    public var locations: [String: SourceLocation]
    /// A list's path to where each of its items starts: one entry per list, not
    /// per item, so a million-prefix policy does not carry a million paths.
    public var itemLocations: [String: [SourceLocation]]

    public init(file: String, locations: [String: SourceLocation] = [:], itemLocations: [String: [SourceLocation]] = [:]) {
        self.file = file
        self.locations = locations
        self.itemLocations = itemLocations
    }

    /// The location of `field`, or of its nearest enclosing field that has one.
    public func location(of field: String) -> SourceLocation {
        var path = Substring(field)
        while !path.isEmpty {
            if let location = locations[String(path)] { return location }
            if path.last == "]", let open = path.lastIndex(of: "["), let index = Int(path[path.index(after: open)..<path.index(before: path.endIndex)]),
               let items = itemLocations[String(path[..<open])], items.indices.contains(index) {
                return items[index]
            }
            guard let cut = path.lastIndex(where: { $0 == "." || $0 == "[" }) else { break }
            path = path[..<cut]
        }
        return SourceLocation(line: 1, column: 1)
    }

    public func diagnostic(_ field: String, _ message: String) -> PolicyDiagnostic {
        let location = location(of: field)
        return PolicyDiagnostic(file: file, line: location.line, column: location.column, field: field, message: message)
    }
}
