/// The era policies, in chronological order. Adding a policy: one file in `Policies/`
/// and one line here.
public enum PolicyRegistry {
    public static let all: [PolicyEntry] = [
        PolicyEntry(Linux4_8.self),
        PolicyEntry(Linux5_7.self),
        PolicyEntry(Linux5_8.self),
        PolicyEntry(Linux5_9.self),
        PolicyEntry(Linux5_18.self),
        PolicyEntry(Linux5_19.self),
        PolicyEntry(Linux6_x.self),
    ]

    public static func named(_ name: String) -> PolicyEntry? { all.first { $0.name == name } }

    /// The policy that models the running kernel of today.
    public static var current: PolicyEntry { named(Linux6_x.name)! }
}

/// A policy behind a type-erased face: its facts and how to run a program on it.
public struct PolicyEntry: Sendable {
    public let name: String
    public let kernels: String
    public let summary: String
    public let tracksExclusive: Bool
    let makeRunnerFn: @Sendable () -> any PolicyRunner
    let explainFn: @Sendable (Program) -> [StepView]
    let explainSessionFn: @Sendable (Program, [PageKey]?) -> ExplainSession

    public init<P: Policy>(_ p: P.Type) {
        name = P.name
        kernels = P.kernels
        summary = P.summary
        tracksExclusive = P.tracksExclusive
        makeRunnerFn = { MachineRunner<P>() }
        explainFn = { program in Machine<P>.explain(program) }
        explainSessionFn = { program, pages in Machine<P>.explainSession(program, pages: pages) }
    }

    /// A runner that keeps its machine's buffers across programs (one per worker).
    public func makeRunner() -> any PolicyRunner { makeRunnerFn() }

    /// Runs one program once.
    public func run(_ program: Program, options: RunOptions = RunOptions()) -> RunResult {
        var r = RunResult()
        makeRunner().run(program, options: options, into: &r)
        return r
    }

    /// Step-by-step views for `explain`.
    public func explain(_ program: Program) -> [StepView] { explainFn(program) }

    /// `explain` one op at a time, showing `pages` (nil: every mapped page).
    public func explainSession(_ program: Program, pages: [PageKey]?) -> ExplainSession { explainSessionFn(program, pages) }
}

/// Runs programs on one policy, reusing its machine.
public protocol PolicyRunner: AnyObject {
    var policyName: String { get }
    /// Runs a program whose `ProgramShape` the caller computed once for every policy.
    func run(_ program: Program, shape: ProgramShape, options: RunOptions, into result: inout RunResult)
}

extension PolicyRunner {
    public func run(_ program: Program, options: RunOptions, into result: inout RunResult) {
        run(program, shape: ProgramShape(program), options: options, into: &result)
    }
}

/// Owns a `Machine<P>` so a worker runs many programs without reallocating; a class
/// because its identity is the reusable buffer.
final class MachineRunner<P: Policy>: PolicyRunner {
    var machine = Machine<P>()
    var policyName: String { P.name }
    func run(_ program: Program, shape: ProgramShape, options: RunOptions, into result: inout RunResult) {
        machine.run(program, shape: shape, options: options, into: &result)
    }
}
