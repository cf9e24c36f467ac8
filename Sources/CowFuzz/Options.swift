import CowModel

/// A bad option value of `fuzz`, `compare`, `shrink` or `bench`: the command line
/// tool prints `description` as its one-line reason and exits 2.
public struct OptionError: Error, Hashable, Sendable, CustomStringConvertible {
    public var description: String
    public init(_ d: String) { description = d }
}

/// Validators of option values, shared by the command-line tool and the tests.
public enum FuzzOptions {
    /// `--shard I/N`: 0 ≤ I < N ≤ the number of lanes.
    public static func shard(_ s: String) throws(OptionError) -> (index: Int, count: Int) {
        let parts = s.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count == 2, let i = Int(parts[0]), let n = Int(parts[1]), n >= 1, i >= 0, i < n else {
            throw OptionError("--shard expects I/N with 0 <= I < N, such as 0/4, got '\(s)'")
        }
        guard n <= CampaignConfig.lanes else {
            throw OptionError("--shard supports at most \(CampaignConfig.lanes) shards (the campaign has \(CampaignConfig.lanes) lanes), got \(n)")
        }
        return (i, n)
    }

    /// `--ops LIST`: op kind names separated by commas; at least one observing kind
    /// (read, readpin or readpipe) or nothing could ever show a wrong value.
    public static func opKinds(_ s: String) throws(OptionError) -> [OpKind] {
        var out: [OpKind] = []
        let words = s.split(separator: ",", omittingEmptySubsequences: false)
        guard !words.isEmpty, !words.contains(where: \.isEmpty) else {
            throw OptionError("--ops expects a comma-separated list of op kinds without empty items, got '\(s)'")
        }
        for w in words {
            guard let k = OpKind(name: String(w)) else {
                throw OptionError("--ops: unknown op kind '\(w)' (kinds: \(OpKind.allCases.map(\.name).joined(separator: ",")))")
            }
            if !out.contains(k) { out.append(k) }
        }
        guard !out.isEmpty else { throw OptionError("--ops expects a comma-separated list of op kinds") }
        guard out.contains(where: \.observes) else {
            throw OptionError("--ops '\(s)' has no observing op (read, readpin or readpipe): nothing could ever show a wrong value")
        }
        return out.sorted()
    }

    /// `--backings LIST`: kinds of mapping (anon, shared, file, thp, hugetlb).
    public static func mappings(_ s: String) throws(OptionError) -> [MappingKind] {
        let names = MappingKind.allCases.map(\.name).joined(separator: ",")
        let words = s.split(separator: ",", omittingEmptySubsequences: false)
        guard !words.isEmpty, !words.contains(where: \.isEmpty) else {
            throw OptionError("--backings expects a comma-separated list of \(names) without empty items, got '\(s)'")
        }
        var out: [MappingKind] = []
        for w in words {
            guard let m = MappingKind(name: String(w)) else {
                throw OptionError("--backings: unknown backing '\(w.prefix(40))' (backings: \(names))")
            }
            if !out.contains(m) { out.append(m) }
        }
        return out.sorted()
    }

    /// `--diff A,B`: two different policy names of `available`.
    public static func diff(_ s: String, available: [String]) throws(OptionError) -> (String, String) {
        let parts = s.split(separator: ",", omittingEmptySubsequences: false).map(String.init)
        guard parts.count == 2, parts[0] != parts[1] else {
            throw OptionError("--diff expects two different policies A,B, such as linux-5.7,linux-5.8, got '\(s)'")
        }
        for p in parts where !available.contains(p) {
            throw OptionError("--diff: unknown policy '\(p)' (run 'cowfuzz policies' for the list)")
        }
        return (parts[0], parts[1])
    }

    /// `--max-ops N`: 1…1000.
    public static func maxOps(_ n: Int) throws(OptionError) -> Int {
        guard (1...1000).contains(n) else { throw OptionError("--max-ops expects a whole number from 1 to 1000, got \(n)") }
        return n
    }
}
