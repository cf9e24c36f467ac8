import CowModel

/// What one op came to, in classes both the real kernel and a model can state.
public enum OutcomeClass: Hashable, Sendable, CustomStringConvertible {
    case done
    /// The kernel refused it (an errno: EINVAL, EFAULT …), with the model's reason.
    case refused(SkipReason)
    /// The names or state did not allow it (for every policy alike).
    case skipped(SkipReason)

    public init(_ s: OpStatus) {
        switch s {
        case .executed: self = .done
        case let .failed(r): self = .refused(r)
        case let .skipped(r): self = .skipped(r)
        }
    }

    /// Whether two outcomes are the same class: done, refused, or skipped (reasons are
    /// shown, not compared: the helper and the model word the same skip differently).
    public func sameClass(_ o: OutcomeClass) -> Bool {
        switch (self, o) {
        case (.done, .done), (.refused, .refused), (.skipped, .skipped): true
        default: false
        }
    }

    public var description: String {
        switch self {
        case .done: "done"
        case let .refused(r): "refused (\(r.text))"
        case let .skipped(r): "skipped (\(r.text))"
        }
    }
}

/// One difference between the real kernel and the model it is held against.
public struct RealDivergence: Hashable, Sendable, CustomStringConvertible {
    public enum Kind: String, Hashable, Sendable {
        /// The op's outcome class differs (done / refused / skipped).
        case opOutcome = "op-outcome"
        /// Both observed, different values.
        case observation
        /// A page's state class differs after the op.
        case state
    }

    public var kind: Kind
    public var op: Int
    /// `p1 r0[3]` for a state divergence.
    public var page: String?
    /// What differs (`present`, `pmd`, `exclusive`, `frame sharing`, …) and both sides.
    public var what: String
    public var real: String
    public var model: String

    public var description: String {
        "\(kind.rawValue) at op \(op)\(page.map { " " + $0 } ?? ""): \(what): real \(real), model \(model)"
    }
}

/// Compares a real run with a model's step views, op by op, in outcome classes and page
/// state classes, excluding measurement artifacts by rule.
///
/// The comparison stops at the first op the real kernel could not run here (a
/// `realUnsupported` skip or a time-out): from there the two runs legitimately part.
///
/// State is compared for the pages the helper reports after each op (the pages the op
/// touched) that the program names by index (the model keeps views of those only), and
/// only in what this kernel exposes reliably:
/// - present, swapped (pagemap bits 63, 62);
/// - PMD-mapped (PAGEMAP_SCAN PAGE_IS_HUGE);
/// - PageAnonExclusive (kpageflags bit 34), when the start-up self-test passed;
/// - KSM and swap-cache flags (kpageflags);
/// - frame sharing: two pages reported after one op share a frame on the real kernel
///   exactly when they do in the model (identity classes, never raw PFNs).
///
/// Writability is not compared: no interface here reports whether a PTE is writable.
///
/// Measurement artifacts, excluded by rule (each has a test):
/// - **PFN reuse**: the kernel hands a just-freed PFN to the next allocation, so the same
///   frame class can name two pages at two times. Sharing is compared only between
///   pages reported after the same op, never across ops.
/// - **Head's exclusive bit**: `/proc/kpageflags` reads folio flags, so every sub-page
///   of a large folio shows the head's PageAnonExclusive. AE is compared only for
///   order-0 pages and PMD-mapped THPs, never for a PTE-mapped large folio.
/// - **hugetlb is huge by construction**: the helper reads the PMD bit (PAGEMAP_SCAN
///   PAGE_IS_HUGE) only for THP pages, so a hugetlb page always reads "not PMD-mapped"
///   where the model maps it huge. PMD-mapped is compared only for pages kpageflags
///   does not report as hugetlb (KPF_HUGE).
/// - **Fault-around**: a read fault on a file or shmem page also maps the neighbours
///   that are already in the page cache (filemap_map_pages, fault_around_bytes), where
///   the model faults one page at a time. A page-cache page (not anonymous in
///   kpageflags) present on the real kernel where the model has no entry is not a
///   difference; the model's page, when touched, is the same page-cache page.
/// - **Pages the model does not show**: the helper reports every page an op touched
///   (up to 8 of a new mapping, all pages of a fork, a THP's populated neighbours),
///   while the model's step views hold only the program's named pages
///   (`Program.namedPages`). A page outside them is not compared: absent from the view
///   means unknown, not "none".
/// - **LRU-add batch**: a folio just read from swap waits in the per-CPU LRU-add batch
///   with an extra reference, which keeps a write-in from freeing its swap cache
///   (should_try_to_free_swap wants refcount == 1 + nr_pages). Whether the batch was
///   drained in between depends on other tasks on that CPU, so 6.18 here answers
///   either way from run to run. The swap-cache flag is not compared while the model
///   holds the folio in the batch.
/// - **Huge zero page**: a read fault in a THP region maps the huge zero folio, whose
///   sub-pages have 512 different PFNs, where the model maps its one zero frame. Pages
///   on a zero frame (either side) take no part in sharing, and no AE is compared there.
public enum RealComparison {
    public static func compare(_ program: Program, real: RealRun, model: [StepView]) -> [RealDivergence] {
        var out: [RealDivergence] = []
        let f = real.features
        let shown = Set(program.namedPages)
        for k in program.ops.indices where k < model.count && k < real.steps.count {
            let rs = real.steps[k], ms = model[k]
            if case .skipped(.realUnsupported) = rs.status { break }
            if case .failed(.realUnsupported) = rs.status { break }
            if case .failed(.timedOut) = rs.status { break }
            if case .skipped(.timedOut) = rs.status { break }
            let ro = OutcomeClass(rs.status), mo = OutcomeClass(ms.status)
            if !ro.sameClass(mo) {
                out.append(RealDivergence(kind: .opOutcome, op: k, page: nil, what: "outcome",
                                          real: ro.description + (rs.detail.isEmpty ? "" : ": \(rs.detail)"),
                                          model: mo.description))
                // The states part from here: what follows would restate this difference.
                break
            }
            if rs.status.executed, ms.status.executed, rs.observed >= 0, ms.observed >= 0, rs.observed != ms.observed {
                out.append(RealDivergence(kind: .observation, op: k, page: nil, what: "value observed",
                                          real: String(rs.observed), model: String(ms.observed)))
            }
            // Rule "pages the model does not show".
            let pages = rs.pages.filter { shown.contains(PageKey($0.process, $0.region, $0.page)) }
            out += stateDifferences(at: k, real: pages, model: ms.pages, features: f)
        }
        return out
    }

    /// The state divergences after op `k` (see the type's rules).
    public static func stateDifferences(at k: Int, real: [RealPageState], model: [PageView],
                                        features f: RealFeatures) -> [RealDivergence] {
        var out: [RealDivergence] = []
        var pairs: [(RealPageState, PageView?)] = []
        for r in real {
            let m = model.first { $0.process == r.process && $0.region == r.region && $0.page == r.page }
            pairs.append((r, m))
        }
        func diff(_ r: RealPageState, _ what: String, _ a: String, _ b: String) {
            out.append(RealDivergence(kind: .state, op: k, page: "p\(r.process) r\(r.region)[\(r.page)]", what: what, real: a, model: b))
        }
        for (r, m) in pairs {
            // Rule "pages the model does not show" (for callers that pass unfiltered pages).
            guard let m else { continue }
            let mEntry = m.entry
            let mPresent = mEntry == "present", mSwapped = mEntry == "swap"
            // Rule "fault-around".
            if r.present, mEntry == "-", f.kpageflags, !r.flags.contains(.anon),
               !r.flags.contains(.zero) {
                continue
            }
            if r.present != mPresent || (!r.present && r.swapped != mSwapped) {
                diff(r, "entry", r.present ? "present" : (r.swapped ? "swapped" : "none"), mPresent ? "present" : (mSwapped ? "swapped" : "none"))
                continue
            }
            guard r.present else { continue }
            let mZero = m.kind == .zero, rZero = r.flags.contains(.zero)
            if f.kpageflags {
                // Rule "hugetlb is huge by construction".
                let hugetlb = r.flags.contains(.hugetlb)
                if !hugetlb, r.flags.contains(.pmd) != m.pmd { diff(r, "PMD-mapped", yes(r.flags.contains(.pmd)), yes(m.pmd)) }
                if r.flags.contains(.ksm) != m.ksm { diff(r, "KSM", yes(r.flags.contains(.ksm)), yes(m.ksm)) }
                // Rule "LRU-add batch": while the model holds the folio in the batch.
                if r.flags.contains(.swapcache) != m.swapcache && !m.lruPending {
                    diff(r, "swap cache", yes(r.flags.contains(.swapcache)), yes(m.swapcache))
                }
            }
            // Rule "head's exclusive bit": only order-0 pages and PMD-mapped THPs.
            let largePTEMapped = (m.order > 0 && !m.pmd) || (r.flags.contains(.thp) && !r.flags.contains(.pmd))
            if let ae = r.anonExclusive, f.anonExclusive, !largePTEMapped, !mZero, !rZero, ae != m.exclusive {
                diff(r, "exclusive (PageAnonExclusive)", yes(ae), yes(m.exclusive))
            }
        }
        // Rule "PFN reuse": sharing only among the pages of this one step.
        // Rule "huge zero page": zero frames take no part.
        guard f.pfns else { return out }
        let live = pairs.compactMap { (r, m) -> (RealPageState, PageView)? in
            guard r.present, r.frame > 0, !r.flags.contains(.zero), let m, m.entry == "present", m.kind != .zero else { return nil }
            return (r, m)
        }
        var reported = Set<String>()
        for a in live.indices {
            for b in live.indices where b > a {
                let (ra, ma) = live[a], (rb, mb) = live[b]
                let realShared = ra.frame == rb.frame, modelShared = ma.frame == mb.frame
                guard realShared != modelShared else { continue }
                let key = "p\(ra.process) r\(ra.region)[\(ra.page)]"
                guard reported.insert(key + "|" + "p\(rb.process) r\(rb.region)[\(rb.page)]").inserted else { continue }
                diff(ra, "frame shared with p\(rb.process) r\(rb.region)[\(rb.page)]", yes(realShared), yes(modelShared))
            }
        }
        return out
    }

    static func yes(_ b: Bool) -> String { b ? "yes" : "no" }

    /// How much of a real run ran: ops executed, and the ops not run here with why.
    public static func coverage(_ real: RealRun) -> (executed: Int, notRun: [RealSkip]) {
        (real.trace.statuses.filter(\.executed).count, real.skips)
    }
}
