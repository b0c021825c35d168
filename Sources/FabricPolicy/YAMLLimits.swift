/// The shape limits a policy or host file must meet, enforced while `YAMLDocument` composes it.
///
/// Why: a recursive composer recurses once per nesting level (libyaml's scanner stops at 1000
/// levels with a message naming a C function; a policy needs 4, so 64 is refused here in the
/// project's words), and a tree that shares an anchored node among its aliases makes a
/// "billion laughs" file small in memory but explosive wherever the tree is walked. libyaml's
/// event parser is iterative with heap stacks, so the composer measures depth and what aliases
/// expand to in bounded time and memory, and refuses the file at the line and column where a
/// limit is crossed.
public enum YAMLLimits {
    /// Nesting depth (mappings and lists inside each other). A policy needs 4; JSON from
    /// `inventory --json` needs 4.
    public static let maximumDepth = 64
    /// Nodes reached through aliases, counting an alias as everything it names: a policy
    /// reusing a list of a million prefixes once is allowed, a billion laughs is not.
    public static let maximumAliasedNodes = 1_000_000
    /// Values (scalars, lists, mappings) in the file: the datapath holds 1,048,576 prefixes
    /// per family, so no real policy has more than about 2.1 million values, and a 50 MB file
    /// of `[a,a,a,…` is refused before it costs 25 million nodes.
    public static let maximumNodes = 2_500_000

    static let depthMessage = "nested more than \(maximumDepth) levels deep (a policy needs 4)"
    static let aliasMessage = "aliases expand to more than \(maximumAliasedNodes) nodes (an alias bomb?)"
    static let valuesMessage = "more than \(maximumNodes) values (the datapath holds at most 1048576 prefixes per family)"
}
