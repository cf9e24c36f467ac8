import CowModel
import CowOracle

/// What a campaign runs each program on and judges it by: the model policies (a
/// `DifferentialExecutor`), or another backend such as the real kernel. One per worker
/// thread, reused for every program.
public protocol ProgramExecutor: AnyObject {
    /// The columns of the signature masks (`ExecutionSummary`'s policy index k is name k).
    var policyNames: [String] { get }
    /// Runs and judges `program` into `summary` (sized for `policyNames`).
    func run(_ program: Program, into summary: inout ExecutionSummary)
}

extension DifferentialExecutor: ProgramExecutor {}

/// The backend of a campaign (`fuzz --backend model|real`): how to make a worker's
/// executor, how many workers it allows, what it does to a program before running it,
/// and what its crash files add. One campaign serves every backend: budget, seed,
/// shards, pools, shrinking, crash files with sidecars and every report.
public struct CampaignBackend: Sendable {
    /// `model`, `real`.
    public var name: String
    /// The signature columns (the executors' `policyNames`).
    public var policyNames: [String]
    public var makeExecutor: @Sendable () -> any ProgramExecutor
    /// At most this many workers (the real kernel runs one program at a time).
    public var maxJobs: Int?
    /// Applied to every program before it runs (the real kernel drops the ops it can
    /// never run here, so a reproducer replays as it was judged).
    public var prepare: (@Sendable (inout Program) -> Void)?
    /// `@expect` lines a crash file adds to those of every model policy (`real`).
    public var expectations: (@Sendable (Program) -> [Expectation])?
    /// The options `replay` and `explain` of a crash file need (` --backend real …`).
    public var replayOptions: String

    public init(name: String, policyNames: [String], makeExecutor: @escaping @Sendable () -> any ProgramExecutor,
                maxJobs: Int? = nil, prepare: (@Sendable (inout Program) -> Void)? = nil,
                expectations: (@Sendable (Program) -> [Expectation])? = nil, replayOptions: String = "") {
        self.name = name
        self.policyNames = policyNames
        self.makeExecutor = makeExecutor
        self.maxJobs = maxJobs
        self.prepare = prepare
        self.expectations = expectations
        self.replayOptions = replayOptions
    }

    /// The model policies of a campaign (with its `--diff` pair).
    public static func model(_ policies: [PolicyEntry], diff: (Int, Int)?) -> CampaignBackend {
        nonisolated(unsafe) let d = diff
        return CampaignBackend(name: "model", policyNames: policies.map(\.name),
                               makeExecutor: { DifferentialExecutor(policies: policies, diff: d) })
    }
}
