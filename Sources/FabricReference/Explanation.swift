import FabricABI
import FabricCompiler
import FabricPolicy

/// A decision with the rule that produced it, in words (for `explain`).
public struct Explanation: Sendable, Encodable {
    public var verdict: Verdict
    public var reason: Reason
    public var action: Action
    public var redirectInterface: String?
    public var direction: Direction
    public var interface: String
    public var fabric: String?
    public var source: String
    public var destination: String?
    /// The fabric owning the source and the prefix that says so.
    public var sourceOwner: String?
    public var rule: String
}

extension ReferenceDatapath {
    /// Decides `frame` and says why, naming the step of docs/decision.md that decided.
    /// `source` / `destination` are the addresses the frame carries (for ARP:
    /// sender and, for requests, target), `names` maps ifindexes to names.
    public func explain(
        frame: [UInt8], interface: String, ifindex: UInt32, direction: Direction,
        source: IPAddress, destination: IPAddress?, names: (UInt32) -> String?
    ) -> Explanation {
        let decision = decide(frame: frame, ifindex: ifindex, direction: direction)
        let entry = plan.interface(index: ifindex)
        let match = longestPrefix(containing: source)
        let ownerName = match.flatMap { $0.fabricID == 0 ? nil : plan.fabric(id: $0.fabricID)?.name }
        let here = entry.map { "'\(interface)' of fabric '\($0.fabric)'" } ?? "'\(interface)'"
        let config = entry?.config(direction)

        let rule: String
        switch decision.reason {
        case .unmanaged where entry == nil:
            rule = "step 1: '\(interface)' belongs to no fabric (unlisted or management), so its traffic is not judged"
        case .unmanaged:
            rule = "step 1: the \(direction.rawValue) hook of \(here) is off (mode: off)"
        case .notIP:
            rule = "step 2: not an IPv4, IPv6 or ARP frame"
        case .malformed:
            rule = "step 3: a truncated or invalid header"
        case .exempt:
            rule = "step 4: source \(source) matches exempt prefix \(match.map { "\($0.prefix)" } ?? "?")"
        case .ok where direction == .egress:
            rule = "step 5: source \(source) is owned by fabric '\(ownerName ?? "?")' (\(match.map { "\($0.prefix)" } ?? "?")), the fabric of \(here)"
        case .ok:
            let sourcePart = ownerName.map { "source \(source) is owned by '\($0)'" } ?? "source \(source) is owned by no fabric"
            rule = "step 7: \(sourcePart) and the destination is not another fabric's address of this host"
        case .unownedSource:
            rule = "step 6: source \(source) is owned by no fabric; \(here) has `unowned: \(config?.unowned.rawValue ?? "?")`"
        case .foreignSource where direction == .egress:
            rule = "step 7: source \(source) is owned by fabric '\(ownerName ?? "?")' (\(match.map { "\($0.prefix)" } ?? "?")) but leaves through \(here)"
        case .foreignSource:
            rule = "step 5: source \(source) is owned by fabric '\(ownerName ?? "?")' (\(match.map { "\($0.prefix)" } ?? "?")) but arrived on \(here)"
        case .foreignDestination:
            let holder = destination.flatMap { address in plan.locals.first { $0.address == address } }
            let owner = holder.flatMap { plan.fabric(id: $0.fabricID)?.name } ?? "?"
            rule = "step 6: destination \(destination.map { "\($0)" } ?? "?") is this host's address of fabric '\(owner)' (on \(holder?.interface ?? "?")) but arrived on \(here)"
        case .redirectUnavailable:
            rule = "step 7: source \(source) belongs to fabric '\(ownerName ?? "?")', which has no usable interface to redirect to"
        default:
            rule = "reason \(decision.reason.name)"
        }
        let consequence: String
        switch decision.action {
        case .drop: consequence = "; mode enforce: dropped"
        case .redirect: consequence = "; mode enforce: redirected to \(names(decision.redirectIfindex) ?? "ifindex \(decision.redirectIfindex)")"
        case .wouldDrop: consequence = "; mode audit: passed, counted as would_drop"
        case .wouldRedirect:
            consequence = "; mode audit: passed, counted as would_redirect to \(names(decision.redirectIfindex) ?? "ifindex \(decision.redirectIfindex)")"
        default: consequence = ""
        }
        return Explanation(
            verdict: decision.verdict, reason: decision.reason, action: decision.action,
            redirectInterface: decision.redirectIfindex == 0 || decision.action == .wouldDrop ? nil : names(decision.redirectIfindex),
            direction: direction, interface: interface, fabric: entry?.fabric, source: source.description,
            destination: destination?.description, sourceOwner: ownerName, rule: "\(direction.rawValue) \(rule)\(consequence)")
    }
}
