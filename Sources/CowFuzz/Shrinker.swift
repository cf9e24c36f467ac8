import CowModel
import CowOracle
import Foundation

/// Predicate calls of one shrinking pass.
public struct ShrinkPassStats: Hashable, Sendable, Codable {
    public var pass: String
    /// Candidates run on the policies (memo misses).
    public var calls = 0
    /// Candidates answered by the memo (same canonical text seen before).
    public var memoHits = 0
    /// Candidates that kept the signature and were taken.
    public var accepted = 0
}

/// The outcome of shrinking one program.
public struct ShrinkResult: Sendable {
    public var program: Program
    public var signature: Signature
    public var originalOps: Int
    /// Per pass, in pass order, summed over rounds.
    public var passes: [ShrinkPassStats]
    public var rounds: Int
    public var seconds: Double
    /// False when the shrinker was stopped before reaching a fixpoint.
    public var complete: Bool
    /// False when the program did not show the signature when run again (nothing was
    /// shrunk): the finding is flaky.
    public var reproduced = true

    public var predicateCalls: Int { passes.reduce(0) { $0 + $1.calls } }
    public var memoHits: Int { passes.reduce(0) { $0 + $1.memoHits } }
}

/// Shrinks a program to a 1-minimal, canonical program with the same signature.
///
/// The predicate demands the *same* signature (the same root cause: verdict, culprit
/// decision site, page kind and reference kind, on any of the policies) at every step:
/// a candidate that fails through another cause is not progress. It is
/// memoised by the candidate's canonical text, and a candidate is only tried when it
/// is shortlex-smaller than the current program (fewer ops, then smaller names,
/// indices and values), so the result is never longer and shrinking terminates.
/// Passes, in order, repeated until a whole round changes nothing:
///
/// 1. `truncate`: drop the ops after the observation that shows the finding;
/// 2. `ddmin`: delta debugging over chunks of ops (Zeller and Hildebrandt, 2002);
/// 3. `remove-one`: every single op, last to first (this makes the result 1-minimal);
/// 4. `simplify`: fewer processes (a forked child's ops done by its parent), then
///    operands, simplest variant first: the pages of whole regions together
///    (one page, or the used indices renumbered), then each op (fewer pages, no range,
///    lower page indices and processes, fewer pin flags, anonymous private non-huge backing);
/// 5. `values`: values renumbered 1, 2, … in order of first appearance;
/// 6. `rename`: canonical names `p0, p1…`, `r0…`, `g0…`, `pipe0…`.
///
/// A class because its identity is the executor's buffers and the memo; one per thread.
public final class Shrinker {
    public let executor: DifferentialExecutor
    var memo: [String: Bool] = [:]
    var summary: ExecutionSummary
    var target = SignatureKey(kind: .isolation, culprit: .none, opKind: nil)
    var stats: [ShrinkPassStats] = []
    var pass = 0
    /// Polled between candidates: when it returns true the shrinker stops and returns
    /// the best program so far (which still has the signature).
    public var shouldStop: () -> Bool = { false }
    /// Replaces the executor's check while `shrink(_:signature:where:)` runs.
    var custom: ((Program) -> Bool)?
    /// Another backend's executor (the real kernel): candidates run and are judged there.
    public private(set) var runner: (any ProgramExecutor)?
    var runnerSummary = ExecutionSummary(policies: 0)
    /// The run's alphabet (`--ops`, `--backings`): no candidate has an op kind or a
    /// mapping outside it that the program being shrunk did not already have. Nil: any.
    public var alphabet: Alphabet?
    var allowed: Alphabet?

    public static let passNames = ["truncate", "ddmin", "remove-one", "simplify", "values", "rename"]

    public init(policies: [PolicyEntry], diff: (Int, Int)? = nil) {
        executor = DifferentialExecutor(policies: policies, diff: diff)
        summary = ExecutionSummary(policies: policies.count)
    }

    public convenience init(executor: DifferentialExecutor) {
        self.init(policies: executor.policies, diff: executor.diff)
    }

    /// A shrinker whose candidates run on another backend (`ProgramExecutor`).
    public convenience init(runner: any ProgramExecutor) {
        if let d = runner as? DifferentialExecutor {
            self.init(executor: d)
            return
        }
        self.init(policies: [])
        self.runner = runner
        runnerSummary = ExecutionSummary(policies: runner.policyNames.count)
    }

    /// The key of `signature`; nil for a divergence whose pair is not this shrinker's.
    public func key(for signature: Signature) -> SignatureKey? {
        if signature.kind == .divergence, runner == nil {
            guard let (a, b) = executor.diff,
                  signature.policies == [executor.policyNames[a], executor.policyNames[b]] else { return nil }
        }
        return signature.key
    }

    /// True when `program` shows exactly `signature` (not memoised).
    public func hasSignature(_ program: Program, _ signature: Signature) -> Bool {
        guard let k = key(for: signature) else { return false }
        if let runner {
            runner.run(program, into: &runnerSummary)
            return runnerSummary.keys.contains(k)
        }
        executor.run(program, into: &summary)
        return summary.keys.contains(k)
    }

    /// Inside the alphabet of this shrink (always true without one).
    func admitted(_ candidate: Program) -> Bool { allowed?.admits(candidate) ?? true }

    /// The memoised predicate, counted against the current pass.
    func test(_ candidate: Program) -> Bool {
        let text = candidate.text
        if let r = memo[text] {
            stats[pass].memoHits += 1
            return r
        }
        stats[pass].calls += 1
        let r: Bool
        if let f = custom {
            r = f(candidate)
        } else if let runner {
            runner.run(candidate, into: &runnerSummary)
            r = runnerSummary.keys.contains(target)
        } else {
            executor.run(candidate, into: &summary)
            r = summary.keys.contains(target)
        }
        memo[text] = r
        return r
    }

    /// Shrinks with the same passes against an arbitrary predicate — for findings the
    /// differential executor cannot check, such as a run on the real kernel.
    public func shrink(_ program: Program, signature: Signature, where predicate: @escaping (Program) -> Bool) -> ShrinkResult {
        custom = predicate
        defer { custom = nil }
        return shrink(program, keeping: signature)
    }

    /// Shrinks `program`, which must show `signature`, to a 1-minimal canonical program
    /// that shows it too. If `program` does not show it, returns it unchanged.
    public func shrink(_ program: Program, keeping signature: Signature) -> ShrinkResult {
        let start = Date()
        memo.removeAll(keepingCapacity: true)
        stats = Shrinker.passNames.map { ShrinkPassStats(pass: $0) }
        var current = program.bare
        allowed = alphabet.map { $0.union(Alphabet(of: program)) }
        var result = ShrinkResult(program: current, signature: signature, originalOps: program.ops.count,
                                  passes: stats, rounds: 0, seconds: 0, complete: false)
        if custom == nil {
            guard let k = key(for: signature) else { return result }
            target = k
        }
        pass = 0
        guard test(current) else {
            result.passes = stats
            result.reproduced = false
            return result
        }
        var stopped = false
        /// Tries a candidate; takes it if shortlex-smaller and it keeps the signature.
        func attempt(_ c: Program) -> Bool {
            if stopped || shouldStop() { stopped = true; return false }
            guard c.isShortlexSmaller(than: current), admitted(c), test(c) else { return false }
            current = c
            stats[pass].accepted += 1
            return true
        }
        var rounds = 0
        var progress = true
        while progress && !stopped {
            progress = false
            rounds += 1
            // 1. truncate after the observation that shows the finding.
            pass = 0
            for cut in truncationPoints(current, signature) where cut < current.ops.count {
                var c = current
                c.ops.removeSubrange(cut...)
                if attempt(c) { progress = true; break }
            }
            // 2. ddmin over chunks.
            pass = 1
            var n = 2
            while current.ops.count >= 2 && !stopped {
                let len = current.ops.count
                let chunk = max(1, (len + n - 1) / n)
                var removed = false
                var lo = 0
                while lo < len {
                    var c = current
                    c.ops.removeSubrange(lo..<min(len, lo + chunk))
                    if attempt(c) { removed = true; break }
                    lo += chunk
                }
                if removed {
                    progress = true
                    n = max(n - 1, 2)
                } else {
                    if chunk == 1 { break }
                    n = min(n * 2, len)
                }
            }
            // 3. single ops, last to first.
            pass = 2
            var i = current.ops.count - 1
            while i >= 0 && !stopped {
                var c = current
                c.ops.remove(at: i)
                if attempt(c) { progress = true }
                i = min(i - 1, current.ops.count - 1)
            }
            // 4. operands: pages of whole regions first, then each op, simplest variant first.
            pass = 3
            for c in current.processMerges + current.pageCompactions {
                if attempt(c) { progress = true; break }
            }
            var j = 0
            while j < current.ops.count && !stopped {
                for v in current.ops[j].simplerVariants {
                    var c = current
                    c.ops[j] = v
                    if attempt(c) { progress = true; break }
                }
                j += 1
            }
            // A race the finding does not need becomes plain ops (more ops, but simpler).
            for c in current.sequentializedRaces() where !stopped && c.ops.count <= program.ops.count && admitted(c) {
                if shouldStop() { stopped = true; break }
                if test(c) { current = c; stats[pass].accepted += 1; progress = true; break }
            }
            if let o = current.thpOrder, o != Program.defaultThpOrder {
                var c = current
                c.thpOrder = nil
                if attempt(c) { progress = true }
            }
            // 5 and 6. values, then names.
            pass = 4
            var c = current
            c.ops = current.canonicallyRenamed.ops.enumerated().map { idx, op in
                // Values only: keep the names of `current`.
                var values: [UInt8] = []
                op.visitNames { kind, x in if kind == 4 { values.append(UInt8(x)) } }
                var it = values.makeIterator()
                return current.ops[idx].rewritten(value: { _ in it.next()! })
            }
            if attempt(c) { progress = true }
            pass = 5
            if attempt(current.canonicallyRenamed) { progress = true }
        }
        result.program = current
        result.passes = stats
        result.rounds = rounds
        result.seconds = Date().timeIntervalSince(start)
        result.complete = !stopped
        return result
    }

    /// Where to cut: after the first, then after the last op that shows the finding.
    func truncationPoints(_ program: Program, _ signature: Signature) -> [Int] {
        guard signature.kind != .leak else { return [] }
        let checker = ProgramChecker(policies: executor.policies)
        let outcomes = checker.check(program)
        var idx: [Int] = []
        if signature.kind == .divergence, let (a, b) = executor.diff {
            if let d = Signature.firstDifference(program, outcomes[a].result.trace, outcomes[b].result.trace) { idx.append(d) }
        } else {
            for o in outcomes {
                for v in o.violations where SignatureKey(v) == signature.key {
                    idx.append(v.op)
                }
            }
        }
        guard let lo = idx.min(), let hi = idx.max() else { return [] }
        return lo == hi ? [lo + 1] : [lo + 1, hi + 1]
    }
}
