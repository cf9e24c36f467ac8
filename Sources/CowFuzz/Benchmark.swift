import CowModel
import Dispatch
import Foundation
import Synchronization

/// `cowfuzz bench`: the figures the fuzzer is judged by, printed, never asserted.
///
/// - throughput: 40-op programs over all policies, on 1 job and on all cores
///   (programs/s and policy-op steps/s), for the executor alone and the whole loop;
/// - per era policy, over fixed seeds: time to the first finding and its shrunk size,
///   shrink time and predicate calls (median, min, max);
/// - the CVE-2020-29374 class (`isolation · do_wp_page: reuse by mapcount · small anon · pipe`): shrunk size on
///   every seed (its known minimum is 7 ops).
public struct Benchmark {
    public var seeds: [UInt64] = Array(1...10)
    public var throughputPrograms = 20_000
    public var campaignRuns = 200_000
    /// Time cap of one search for a first finding.
    public var searchSeconds = 5.0
    public var jobs = ProcessInfo.processInfo.activeProcessorCount
    public var log: (String) -> Void = { print($0) }

    public init(quick: Bool = false) {
        if quick {
            seeds = Array(1...10)
            throughputPrograms = 4000
            campaignRuns = 30_000
            searchSeconds = 2
        }
    }

    public struct Stat: Sendable, Codable {
        public var median: Double, min: Double, max: Double, count: Int
        public init?(_ xs: [Double]) {
            guard !xs.isEmpty else { return nil }
            let s = xs.sorted()
            median = s.count % 2 == 1 ? s[s.count / 2] : (s[s.count / 2 - 1] + s[s.count / 2]) / 2
            min = s[0]
            max = s[s.count - 1]
            count = s.count
        }
    }

    /// CPU seconds this process has used (all threads): figures per CPU second stay
    /// meaningful on a loaded machine, where wall-clock rates do not.
    public static func processCPUSeconds() -> Double {
        var ts = timespec()
        clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts)
        return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
    }

    /// Programs/s of the executor alone over `programs` on `jobs` workers: per wall
    /// second and per CPU second.
    public static func executorThroughput(_ programs: [Program], policies: [PolicyEntry], jobs: Int) -> (wall: Double, cpu: Double) {
        let executors = (0..<jobs).map { _ in DifferentialExecutor(policies: policies) }
        // Warm up the machines' buffers.
        var s = ExecutionSummary(policies: policies.count)
        for e in executors { for p in programs.prefix(50) { e.run(p, into: &s) } }
        let cursor = Atomic<Int>(0)
        let start = Date()
        let cpu0 = processCPUSeconds()
        DispatchQueue.concurrentPerform(iterations: jobs) { w in
            var s = ExecutionSummary(policies: policies.count)
            let e = executors[w]
            while true {
                let k = cursor.add(64, ordering: .relaxed).oldValue
                if k >= programs.count { break }
                for i in k..<min(programs.count, k + 64) { e.run(programs[i], into: &s) }
            }
        }
        let n = Double(programs.count)
        return (n / Date().timeIntervalSince(start), n / max(1e-9, processCPUSeconds() - cpu0))
    }

    func fmt(_ x: Double, _ digits: Int = 0) -> String { String(format: "%.\(digits)f", x) }
    func fmtStat(_ s: Stat?, scale: Double = 1, digits: Int = 0, unit: String = "") -> String {
        guard let s else { return "-" }
        return "\(fmt(s.median * scale, digits))\(unit) (min \(fmt(s.min * scale, digits)), max \(fmt(s.max * scale, digits)))"
    }

    public func run() {
        let all = PolicyRegistry.all
        var gen = GeneratorConfig()
        gen.fixedLength = true
        let generator = ProgramGenerator(gen)
        let programs = (0..<throughputPrograms).map { generator.program(seed: SplitMix64.derive(1, UInt64($0))) }
        let opsPerProgram = Double(gen.maxOps * all.count)
        log("== throughput: \(programs.count) programs of \(gen.maxOps) ops on \(all.count) policies ==")
        for j in Set([1, jobs]).sorted() {
            let (pps, perCPU) = Benchmark.executorThroughput(programs, policies: all, jobs: j)
            log("executor   jobs=\(j): \(fmt(pps)) programs/s, \(fmt(pps * opsPerProgram / 1e6, 2))M policy-op steps/s; per CPU second: \(fmt(perCPU)) programs, \(fmt(perCPU * opsPerProgram / 1e6, 2))M steps")
        }
        for j in Set([1, jobs]).sorted() {
            var c = CampaignConfig()
            c.runs = campaignRuns
            c.jobs = j
            c.shrink = false
            let cpu0 = Benchmark.processCPUSeconds()
            let r = Campaign(c).run()
            let cpu = Benchmark.processCPUSeconds() - cpu0
            let steps = Double(r.stats.opsExecuted) / r.stats.seconds
            log("campaign   jobs=\(j): \(fmt(r.stats.programsPerSecond)) programs/s, \(fmt(Double(r.stats.programs) / cpu)) per CPU second (generation, mutation, coverage; \(c.generator.minOps)–\(c.generator.maxOps) ops), \(fmt(steps / 1e6, 2))M executed policy-op steps/s, coverage \(r.stats.coverage), \(r.findings.count) signatures")
        }

        log("\n== first finding per era policy: \(seeds.count) seeds, 1 job, up to \(fmt(searchSeconds))s each ==")
        log("policy      found  time to first finding        shrunk ops              shrink ms               predicate calls")
        for p in all {
            var times: [Double] = [], sizes: [Double] = [], shrinkMs: [Double] = [], calls: [Double] = []
            var misses = 0
            for seed in seeds {
                var c = CampaignConfig()
                c.seed = seed
                c.jobs = 1
                c.policies = [p]
                c.seconds = searchSeconds
                c.stopAtFirstFinding = true
                let r = Campaign(c).run()
                guard let f = r.findings.min(by: { $0.foundAtSeconds < $1.foundAtSeconds }) else {
                    misses += 1
                    if misses >= 3 && times.isEmpty { break }
                    continue
                }
                times.append(f.foundAtSeconds)
                sizes.append(Double(f.ops))
                if let s = f.shrink { shrinkMs.append(s.seconds * 1000); calls.append(Double(s.predicateCalls)) }
            }
            func col(_ s: String, _ n: Int) -> String { s.count >= n ? s + " " : s + String(repeating: " ", count: n - s.count) }
            log(col(p.name, 12) + col("\(times.count)/\(times.count + misses)", 7)
                + col(fmtStat(Stat(times), scale: 1000, digits: 1, unit: "ms"), 29) + col(fmtStat(Stat(sizes)), 24)
                + col(fmtStat(Stat(shrinkMs), digits: 1), 24) + fmtStat(Stat(calls)))
        }

        // The CVE class is its root cause: a reuse by mapcount of a small page a pipe holds.
        let cveOps: [OpKind] = [.mmap, .munmap, .write, .read, .fork, .exit, .vmsplice, .readpipe]
        let target = Signature(kind: .isolation, culprit: Culprit(rule: .wpMapcount, action: .reuse, page: .smallAnon, ref: .pipe, op: -1),
                               policies: [])
        log("\n== CVE-2020-29374 class (\(target.text); ops \(cveOps.map(\.name).joined(separator: ","))): shrunk size per seed ==")
        var sizes: [Int] = []
        var ttf: [Double] = [], shrinkMs: [Double] = [], calls: [Double] = []
        for seed in seeds {
            var c = CampaignConfig()
            c.seed = seed
            c.jobs = jobs
            c.runs = 16_384
            c.generator.kinds = cveOps
            let r = Campaign(c).run()
            if let f = r.findings.first(where: { $0.signature.key == target.key }) {
                sizes.append(f.ops)
                ttf.append(f.foundAtSeconds)
                if let s = f.shrink { shrinkMs.append(s.seconds * 1000); calls.append(Double(s.predicateCalls)) }
            } else {
                sizes.append(-1)
            }
        }
        log("(each: 16384 programs; the smallest of up to 9 shrunk programs with the signature is kept)")
        log("shrunk ops per seed: \(sizes.map { $0 < 0 ? "not found" : String($0) }.joined(separator: " "))"
            + (sizes.allSatisfy { $0 == 7 } ? "  (7 on every seed)" : "  (NOT 7 on every seed)"))
        log("time to find: \(fmtStat(Stat(ttf), scale: 1000, digits: 1, unit: "ms")); shrink: \(fmtStat(Stat(shrinkMs), digits: 1, unit: "ms")); predicate calls: \(fmtStat(Stat(calls)))")
    }
}
