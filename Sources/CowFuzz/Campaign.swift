import CowModel
import CowOracle
import Dispatch
import Foundation
import Synchronization

/// The settings of a fuzzing campaign (`cowfuzz fuzz`).
public struct CampaignConfig: Sendable {
    public var seed: UInt64 = 1
    /// Stop after this many programs (global indices `0..<runs`, before sharding).
    public var runs: Int?
    /// Stop after this many seconds.
    public var seconds: Double?
    public var jobs: Int = ProcessInfo.processInfo.activeProcessorCount
    public var policies: [PolicyEntry] = PolicyRegistry.all
    /// `--diff A,B`: names of two of `policies`.
    public var diff: (String, String)?
    public var generator = GeneratorConfig()
    /// `--shard I/N`: this run executes the lanes `l` with `l % N == I`.
    public var shard: (index: Int, count: Int) = (0, 1)
    /// Coverage guidance: mutate pool programs (otherwise every program is fresh).
    public var guided = true
    /// Percent of programs that are mutants of a pool program (when the pool is not empty).
    public var mutationPercent = 50
    /// Seeds and known signatures; nil for none.
    public var corpusDir: String?
    /// Where new findings are written; nil: shrink but do not write.
    public var crashesDir: String?
    /// Shrink new findings (benchmarks that time the search alone turn it off).
    public var shrink = true
    /// After a new finding is shrunk, this many later programs showing the same signature
    /// are shrunk too and the shortlex-smallest result is kept: a greedy shrinker stops
    /// in a local minimum, and a signature can be reached by several bugs.
    public var reshrinkAttempts = 8
    /// Stop at the first new finding (benchmarks).
    public var stopAtFirstFinding = false
    /// How the run was started, for the header of crash files.
    public var commandLine = "cowfuzz fuzz"
    /// What programs run on; nil: the model `policies` (with the `diff` pair).
    public var backend: CampaignBackend?

    /// The backend the campaign runs: `backend`, or the model policies.
    public var effectiveBackend: CampaignBackend { backend ?? .model(policies, diff: diffIndices) }

    /// Independent lanes, each with its own pool and coverage map. Program `i` belongs to
    /// lane `i % lanes`; a lane never sees another lane's results, so a shard (a set of
    /// lanes) runs exactly the programs the unsharded run runs for those lanes.
    public static let lanes = 64
    /// Programs per batch: inputs of a batch depend only on the state before it, so
    /// results are the same for any `jobs`.
    public static let batch = 256
    public static let poolPerLane = 48

    public init() {}

    /// Indices of the `--diff` pair in `policies`.
    public var diffIndices: (Int, Int)? {
        guard let (a, b) = diff, let i = policies.firstIndex(where: { $0.name == a }),
              let j = policies.firstIndex(where: { $0.name == b }) else { return nil }
        return (i, j)
    }
}

/// Figures of a campaign so far (the progress line and the report).
public struct CampaignStats: Sendable {
    public var programs = 0
    public var opsExecuted = 0
    public var seconds = 0.0
    /// Coverage bits reached, union over policies (and per policy).
    public var coverage = 0
    public var coverageByPolicy: [Int] = []
    public var findings = 0
    public var newFindings = 0
    /// Findings that did not show again when re-run (`FindingStatus.flaky`).
    public var flakyFindings = 0
    public var poolSize = 0
    public var programsPerSecond: Double { seconds > 0 ? Double(programs) / seconds : 0 }
}

/// One point of the coverage-over-time series.
public struct CoveragePoint: Hashable, Sendable, Codable {
    public var seconds: Double
    public var programs: Int
    public var coverage: Int
}

/// What a campaign produced.
public struct CampaignResult: Sendable {
    public var stats: CampaignStats
    /// Every distinct signature met, in signature order.
    public var findings: [Finding]
    public var timeline: [CoveragePoint]
    /// Per policy (in `policies` order): counters summed over every program run.
    public var counters: [Counters]
    public var policies: [String]
    public var interrupted: Bool
    /// Programs whose crash file could not be written (with the reason).
    public var writeErrors: [String]
}

/// A coverage-guided, swarm, differential fuzzing campaign.
///
/// Programs are made in batches of `CampaignConfig.batch` global indices. Program `i`
/// is a pure function of the run seed, `i`, and the pool of its lane as it stood before
/// the batch: fresh (`ProgramGenerator`) or a mutant of a pool program (`Mutator`).
/// Workers run a batch in parallel, each with its own `DifferentialExecutor`; then,
/// in index order, programs that reached new coverage join their lane's pool and
/// signatures not met before become findings. New findings are shrunk in parallel and
/// written to `crashes/` at once, so nothing found is lost when the run is stopped.
///
/// A class because it owns the workers' buffers and the stop flag, which a signal
/// handler sets from another thread.
public final class Campaign: @unchecked Sendable {
    public let config: CampaignConfig
    let stopFlag = Atomic<Bool>(false)
    /// Called on the campaign's thread after every batch.
    public var onProgress: ((CampaignStats) -> Void)?
    /// Called on the campaign's thread for every finding as it is recorded.
    public var onFinding: ((Finding) -> Void)?
    /// Called once, before the first batch, with the corpus programs that seed the pools.
    public var onSeeds: (([Program]) -> Void)?

    public init(_ config: CampaignConfig) { self.config = config }

    /// Asks the campaign to stop after the current batch; thread-safe.
    public func requestStop() { stopFlag.store(true, ordering: .relaxed) }
    public var stopRequested: Bool { stopFlag.load(ordering: .relaxed) }

    /// One worker's reusable state; used by one thread at a time (hence `@unchecked`).
    final class Worker: @unchecked Sendable {
        let executor: any ProgramExecutor
        var summary: ExecutionSummary
        var counters: [Counters]
        lazy var shrinker: Shrinker = {
            let s = Shrinker(runner: executor)
            s.alphabet = alphabet
            return s
        }()
        let alphabet: Alphabet
        init(_ c: CampaignConfig, _ backend: CampaignBackend, alphabet: Alphabet) {
            self.alphabet = alphabet
            executor = backend.makeExecutor()
            summary = ExecutionSummary(policies: backend.policyNames.count)
            counters = Array(repeating: Counters(), count: backend.policyNames.count)
        }
    }

    /// What a worker hands back for one program.
    struct Outcome {
        var hits: [SignatureHit] = []
        var opsExecuted = 0
        /// Per-policy coverage, only when it is new to the lane's snapshot.
        var coverage: [Coverage]?
        /// Kept when it may join the pool or show a new signature.
        var program: Program?
        var origin = ProgramOrigin.generated
        var swarm: Swarm?
        /// False for a program of the batch that did not run (the budget ran out or a
        /// stop was asked for within the batch).
        var ran = false
    }

    /// Program `index`: fresh or a mutant of its lane's pool.
    static func input(_ index: Int, seed: UInt64, pool: [Program], config: CampaignConfig,
                      generator: ProgramGenerator, mutator: Mutator,
                      prepare: (@Sendable (inout Program) -> Void)? = nil) -> (Program, ProgramOrigin, Swarm?) {
        var rng = SplitMix64(seed: SplitMix64.derive(seed, UInt64(index)))
        if config.guided, !pool.isEmpty, rng.chance(config.mutationPercent) {
            let a = pool[rng.below(pool.count)], b = pool[rng.below(pool.count)]
            var m = mutator.mutate(a, other: b, &rng)
            prepare?(&m)
            return (m, .mutant, nil)
        }
        var (p, s) = generator.generate(&rng)
        prepare?(&p)
        return (p, .generated, s)
    }

    /// Runs the campaign to its budget (or until `requestStop`).
    public func run() -> CampaignResult {
        let c = config
        let start = Date()
        let backend = c.effectiveBackend
        let names = backend.policyNames
        let generator = ProgramGenerator(c.generator)
        let mutator = Mutator(generator)
        let jobs = min(max(1, c.jobs), backend.maxJobs ?? Int.max)
        let deadline = c.seconds.map { start.addingTimeInterval($0) }
        let alphabet = Alphabet(c.generator)
        let workers = (0..<jobs).map { _ in Worker(c, backend, alphabet: alphabet) }
        let lanes = CampaignConfig.lanes
        var pools = [[Program]](repeating: [], count: lanes)
        var laneCoverage = [[Coverage]](repeating: Array(repeating: Coverage(), count: names.count), count: lanes)
        var globalCoverage = Array(repeating: Coverage(), count: names.count)
        var seen = Set<SignatureKey>()
        /// New signatures whose reproducer may still improve: attempts left.
        var improving: [SignatureKey: Int] = [:]
        var findings: [SignatureKey: Finding] = [:]
        var eraMasks: [SignatureKey: UInt32] = [:]
        var writeErrors: [String] = []
        var stats = CampaignStats()
        stats.coverageByPolicy = Array(repeating: 0, count: names.count)
        var timeline: [CoveragePoint] = []

        // Known signatures: corpus/ and crashes/ programs, run on the selected policies.
        var known: [SignatureKey: (FindingStatus, String, Program)] = [:]
        let probe = workers[0].executor
        var corpusPrograms: [Program] = []
        for (status, dir) in [(FindingStatus.known, c.corpusDir), (.seen, c.crashesDir)] {
            guard let dir else { continue }
            for (path, prog) in CorpusStore.programs(in: dir) {
                var s = ExecutionSummary(policies: names.count)
                probe.run(prog, into: &s)
                for k in s.keys.keys where known[k] == nil { known[k] = (status, path, prog) }
                // Seeds only from inside the run's alphabet: a mutant of a seed stays in it.
                if status == .known, alphabet.admits(prog) { corpusPrograms.append(prog.bare) }
            }
        }
        if c.guided {
            let seeds = Array(corpusPrograms.prefix(CampaignConfig.poolPerLane))
            for l in 0..<lanes { pools[l] = seeds }
            onSeeds?(seeds)
        }

        func inShard(_ i: Int) -> Bool { (i % lanes) % c.shard.count == c.shard.index }
        let total = c.runs ?? Int.max
        var next = 0
        var interrupted = false
        var lastPoint = -1.0
        while next < total {
            if stopRequested { interrupted = true; break }
            if let t = c.seconds, Date().timeIntervalSince(start) >= t { break }
            let hi = min(total, next + CampaignConfig.batch)
            let indices = (next..<hi).filter(inShard)
            next = hi
            if indices.isEmpty { continue }
            var outcomes = [Outcome](repeating: Outcome(), count: indices.count)
            let poolSnapshot = pools, coverageSnapshot = laneCoverage, seenSnapshot = seen
            let improvingSnapshot = Set(improving.keys)
            let cursor = Atomic<Int>(0)
            outcomes.withUnsafeMutableBufferPointer { out in
                nonisolated(unsafe) let out = out
                DispatchQueue.concurrentPerform(iterations: min(jobs, indices.count)) { w in
                    let worker = workers[w]
                    while true {
                        let k = cursor.add(1, ordering: .relaxed).oldValue
                        if k >= indices.count { break }
                        // A budget in seconds or a stop ends a batch early (a real-kernel
                        // batch takes minutes); `--runs` results stay the same for any jobs.
                        if self.stopRequested { break }
                        if let d = deadline, Date() >= d { break }
                        let i = indices[k]
                        let lane = i % lanes
                        let (prog, origin, swarm) = Campaign.input(i, seed: c.seed, pool: poolSnapshot[lane], config: c,
                                                                   generator: generator, mutator: mutator,
                                                                   prepare: backend.prepare)
                        worker.executor.run(prog, into: &worker.summary)
                        var o = Outcome()
                        o.opsExecuted = worker.summary.opsExecuted
                        for p in 0..<names.count { worker.counters[p].add(worker.summary.counters[p]) }
                        if c.guided {
                            for p in 0..<names.count where !worker.summary.coverage[p].isSubset(of: coverageSnapshot[lane][p]) {
                                o.coverage = worker.summary.coverage
                                break
                            }
                        }
                        var unseen = false
                        if worker.summary.keys.any {
                            o.hits = worker.summary.keys.hits
                            unseen = o.hits.contains(where: { !seenSnapshot.contains($0.key) || improvingSnapshot.contains($0.key) })
                        }
                        if o.coverage != nil || unseen { o.program = prog; o.origin = origin; o.swarm = swarm }
                        o.ran = true
                        out[k] = o
                    }
                }
            }
            // Merge in index order: pools, coverage, findings.
            var fresh: [(SignatureKey, Int, Outcome)] = []
            var retry: [(SignatureKey, Int, Outcome)] = []
            for (k, o) in outcomes.enumerated() where o.ran {
                let i = indices[k]
                stats.programs += 1
                stats.opsExecuted += o.opsExecuted
                if let cov = o.coverage, let prog = o.program {
                    let lane = i % lanes
                    var grew = false
                    for p in 0..<names.count {
                        if laneCoverage[lane][p].merge(cov[p]) { grew = true }
                        globalCoverage[p].merge(cov[p])
                    }
                    if grew {
                        if pools[lane].count < CampaignConfig.poolPerLane {
                            pools[lane].append(prog.bare)
                        } else {
                            var rng = SplitMix64(seed: SplitMix64.derive(c.seed, UInt64(i), stream: 2))
                            pools[lane][rng.below(pools[lane].count)] = prog.bare
                        }
                    }
                }
                for hit in o.hits {
                    let key = hit.key
                    // The era range: every policy any program showed this root cause on.
                    let mask = (eraMasks[key] ?? 0) | hit.policies
                    eraMasks[key] = mask
                    if findings[key] != nil { findings[key]!.signature = key.signature(policies: mask, policyNames: names) }
                    if seen.insert(key).inserted {
                        let sig = key.signature(policies: mask, policyNames: names)
                        let prog = o.program ?? Program(ops: [])
                        let elapsed = Date().timeIntervalSince(start)
                        if let (status, path, stored) = known[key] {
                            findings[key] = Finding(signature: sig, status: status, program: stored, path: path, hits: 1,
                                                    programIndex: i, origin: o.origin, originalOps: prog.ops.count,
                                                    foundAtSeconds: elapsed, foundAfterPrograms: stats.programs,
                                                    swarm: o.swarm?.kinds ?? [], shrink: nil)
                            onFinding?(findings[key]!)
                        } else {
                            findings[key] = Finding(signature: sig, status: .new, program: prog, path: nil, hits: 1,
                                                    programIndex: i, origin: o.origin, originalOps: prog.ops.count,
                                                    foundAtSeconds: elapsed, foundAfterPrograms: stats.programs,
                                                    swarm: o.swarm?.kinds ?? [], shrink: nil)
                            fresh.append((key, i, o))
                        }
                    } else {
                        findings[key]?.hits += 1
                        if let left = improving[key], o.program != nil {
                            improving[key] = left > 1 ? left - 1 : nil
                            retry.append((key, i, o))
                        }
                    }
                }
            }
            // Shrink the new findings (and later programs of recent ones) in parallel,
            // then write them in order.
            if !fresh.isEmpty || !retry.isEmpty {
                let freshList = fresh + retry
                var shrunk = [ShrinkResult?](repeating: nil, count: freshList.count)
                let cursor2 = Atomic<Int>(0)
                let masksSnapshot = eraMasks
                if c.shrink {
                    shrunk.withUnsafeMutableBufferPointer { out in
                        nonisolated(unsafe) let out = out
                        DispatchQueue.concurrentPerform(iterations: min(jobs, freshList.count)) { w in
                            let shrinker = workers[w].shrinker
                            shrinker.shouldStop = { [unowned self] in self.stopRequested }
                            while true {
                                let k = cursor2.add(1, ordering: .relaxed).oldValue
                                if k >= freshList.count { break }
                                let (key, _, o) = freshList[k]
                                out[k] = shrinker.shrink(o.program!, keeping: key.signature(policies: masksSnapshot[key] ?? 0, policyNames: names))
                            }
                        }
                    }
                }
                /// Writes a finding's reproducer and sidecar (keeping a smaller one there).
                func write(_ f: inout Finding) {
                    guard let dir = c.crashesDir else { return }
                    do {
                        let w = try CrashWriter(directory: dir, backend: c.backend).writeKeepingSmaller(f, seed: c.seed, commandLine: c.commandLine)
                        f.path = w.path
                        f.keptExisting = w.outcome == .keptSmaller
                    } catch {
                        writeErrors.append("\(f.signature.text): \(error)")
                    }
                }
                for (k, (key, _, _)) in fresh.enumerated() {
                    var f = findings[key]!
                    if let s = shrunk[k] {
                        f.program = s.program
                        f.shrink = s
                        // A backend that is not deterministic did not show it again: not
                        // written; a later program showing it is tried again.
                        if !s.reproduced && !stopRequested {
                            f.status = .flaky
                            findings[key] = f
                            stats.flakyFindings += 1
                            if c.reshrinkAttempts > 0 { improving[key] = c.reshrinkAttempts }
                            onFinding?(f)
                            continue
                        }
                    }
                    write(&f)
                    findings[key] = f
                    stats.newFindings += 1
                    if c.shrink && c.reshrinkAttempts > 0 { improving[key] = c.reshrinkAttempts }
                    onFinding?(f)
                }
                for (k, (key, i, o)) in retry.enumerated() {
                    guard var f = findings[key], let s = shrunk[fresh.count + k], let prog = o.program else { continue }
                    f.shrunkPrograms += 1
                    let confirmed = f.status == .flaky && s.reproduced
                    if f.status == .flaky && !confirmed { findings[key] = f; continue }
                    if confirmed || s.program.isShortlexSmaller(than: f.program) {
                        f.program = s.program
                        f.shrink = s
                        f.programIndex = i
                        f.origin = o.origin
                        f.originalOps = prog.ops.count
                        f.swarm = o.swarm?.kinds ?? []
                        if confirmed {
                            // Shown again and reproduced this time: a new finding after all.
                            f.status = .new
                            stats.flakyFindings -= 1
                            stats.newFindings += 1
                        }
                        write(&f)
                        if confirmed { onFinding?(f) }
                    }
                    findings[key] = f
                }
            }
            stats.findings = findings.count
            stats.seconds = Date().timeIntervalSince(start)
            var union = Coverage()
            for p in 0..<names.count {
                union.merge(globalCoverage[p])
                stats.coverageByPolicy[p] = globalCoverage[p].count
            }
            stats.coverage = union.count
            stats.poolSize = pools.reduce(0) { $0 + $1.count }
            if stats.seconds - lastPoint >= 0.25 || next >= total {
                timeline.append(CoveragePoint(seconds: stats.seconds, programs: stats.programs, coverage: stats.coverage))
                lastPoint = stats.seconds
            }
            onProgress?(stats)
            if c.stopAtFirstFinding && stats.newFindings > 0 { break }
        }
        stats.seconds = Date().timeIntervalSince(start)
        if timeline.last?.programs != stats.programs {
            timeline.append(CoveragePoint(seconds: stats.seconds, programs: stats.programs, coverage: stats.coverage))
        }
        var counters = Array(repeating: Counters(), count: names.count)
        for w in workers { for p in 0..<names.count { counters[p].add(w.counters[p]) } }
        return CampaignResult(stats: stats, findings: findings.values.sorted { $0.signature < $1.signature },
                              timeline: timeline, counters: counters, policies: names, interrupted: interrupted,
                              writeErrors: writeErrors)
    }
}
