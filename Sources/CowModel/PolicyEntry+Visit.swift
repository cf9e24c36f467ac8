/// Opening a type-erased `PolicyEntry` to its policy type, for code that must be
/// generic over the policy outside this module (the state-space explorer keeps one
/// `Machine<P>` per state).

/// Something done with a policy type: `PolicyEntry.visit` calls `visit(P.self)`.
public protocol PolicyVisitor {
    associatedtype Result
    func visit<P: Policy>(_ policy: P.Type) -> Result
}

/// A runner that knows its policy type (every `MachineRunner` does).
protocol PolicyTypeCarrier {
    func accept<V: PolicyVisitor>(_ visitor: V) -> V.Result
}

extension MachineRunner: PolicyTypeCarrier {
    func accept<V: PolicyVisitor>(_ visitor: V) -> V.Result { visitor.visit(P.self) }
}

extension PolicyEntry {
    /// Calls `visitor.visit(P.self)` with this entry's policy type.
    public func visit<V: PolicyVisitor>(_ visitor: V) -> V.Result {
        // Every entry's runner is a `MachineRunner<P>` (see `init`).
        (makeRunner() as! any PolicyTypeCarrier).accept(visitor)
    }
}
