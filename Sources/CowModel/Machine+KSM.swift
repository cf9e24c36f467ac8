/// KSM: merging identical anonymous pages into one write-protected KSM page.
extension Machine {
    /// `madvise mergeable|unmergeable`. Unmerging breaks every KSM page in the range:
    /// ≤ 6.1 with a fake write fault (a private writable copy), 6.2+ with
    /// FAULT_FLAG_UNSHARE (a private read-only exclusive copy).
    /// `splits`: the advice changes some page's flags (the VMA, and a PMD it cuts, split).
    mutating func ksmAdvise(_ p: Int, _ r: Int, _ from: Int, _ count: Int, mergeable: Bool, splits: Bool) -> OpStatus {
        let reg = s.regions[s.regionIndex(p, r)]
        // vma_ksm_compatible(): shared and hugetlb VMAs are left alone (the call succeeds);
        // a private file mapping takes the flag, and its anonymous (COWed) pages merge.
        guard reg.backing != .shared, reg.huge != .hugetlb else { return .executed }
        let base = s.slotIndex(p, r, 0)
        // (The sixth real fuzz: MADV_MERGEABLE on one page of a PMD-mapped THP splits it.)
        if splits { splitPMDsCrossing(p, r, from, count) }
        for k in from..<(from + count) {
            if mergeable {
                s.slots[base + k].vm.insert(.mergeable)
                continue
            }
            s.slots[base + k].vm.remove(.mergeable)
            let sl = s.slots[base + k]
            guard sl.state == .present, s.frames[Int(sl.frame)].kind == .anon, s.folio(sl.frame).ksm else { continue }
            s.cover(.ksmUnmerge, sl.frame)
            s.event(.ksmBreak, p: p, r: r, i: k, from: sl.frame)
            anonWriteFault(base + k, p: p, r: r, i: k, reg: reg, unshare: P.ksmUnmergeUnshares)
        }
        return .executed
    }

    /// One full ksmd pass. Candidates are small anonymous pages of MADV_MERGEABLE
    /// ranges mapped once; `write_protect_page` refuses a page with any reference beyond
    /// its mapping and the swap cache (GUP references, pins), and 5.19+ must be able to
    /// clear PageAnonExclusive. Equal contents merge into one read-only KSM page: into
    /// an existing KSM page of that content (stable tree), else the first candidate
    /// becomes KSM in place (unstable tree).
    mutating func ksmPass() -> OpStatus {
        // Without a mergeable VMA ksmd has nothing to scan: no full scan, so not even its
        // lru_add_drain_all() (6.18: full_scans does not move; the real backend).
        guard anyMergeable() else { return .executed }
        s.drainLRU()
        if P.ksmSplitsLargeFolios { splitLargeFoliosOfMergeableRanges() }
        var stable = [Int32](repeating: -1, count: 256)
        var unstable = [Int](repeating: -1, count: 256)
        for h in 1..<s.frames.count where s.frames[h].kind == .anon && s.frames[h].ksm && s.frames[h].head == Int32(h) {
            let c = Int(s.frames[h].content)
            if stable[c] < 0 { stable[c] = Int32(h) }
        }
        for p in 0..<s.procCap where s.procs[p].alive {
            for r in 0..<s.regionCap {
                let reg = s.regions[s.regionIndex(p, r)]
                // Private file mappings too: their anonymous (COWed) pages merge.
                guard reg.exists, reg.backing != .shared, reg.huge != .hugetlb else { continue }
                let base = s.slotIndex(p, r, 0)
                for k in 0..<Int(reg.pages) {
                    let si = base + k
                    let sl = s.slots[si]
                    guard sl.state == .present, sl.vm.contains(.mergeable), !sl.pmd else { continue }
                    let f = sl.frame
                    let fr = s.frames[Int(f)]
                    // write_protect_page() asks only that nothing but mappings and the swap
                    // cache hold the page: a page fork left mapped by several processes
                    // merges too (the real backend on 6.18), for all its mappers at once.
                    guard fr.kind == .anon, fr.order == 0, fr.head == f, !fr.ksm, !fr.hugetlb else { continue }
                    if s.extraRefs(f) != 0 {
                        s.cover(.ksmRefused, f)
                        continue
                    }
                    let c = Int(fr.content)
                    if stable[c] >= 0 {
                        mergeInto(si, stable[c], p: p, r: r, i: k)
                    } else if unstable[c] >= 0 && s.slots[unstable[c]].frame != f {
                        // (A page fork left mapped twice is in the unstable tree once: it
                        // never merges with itself.)
                        let (tsi, tp, tr, ti) = decode(unstable[c])
                        let t = s.slots[tsi].frame
                        // The unstable page becomes the KSM page in place.
                        s.frames[Int(t)].ksm = true
                        // A KSM page stands for every store of its content.
                        s.frames[Int(t)].store = StoreID.ksmMerged
                        s.frames[Int(t)].exclusive = false
                        s.slots[tsi].writable = false
                        stable[c] = t
                        unstable[c] = -1
                        s.event(.ksmMerge, p: tp, r: tr, i: ti, to: t)
                        mergeInto(si, t, p: p, r: r, i: k)
                    } else {
                        unstable[c] = si
                    }
                }
            }
        }
        return .executed
    }

    /// ksmd meets a large anonymous folio in a mergeable range: it splits it (a pinned
    /// one refuses and stays large), and its pages are then candidates like any other.
    mutating func splitLargeFoliosOfMergeableRanges() {
        for p in 0..<s.procCap where s.procs[p].alive {
            for r in 0..<s.regionCap {
                let reg = s.regions[s.regionIndex(p, r)]
                guard reg.exists, reg.backing != .shared, reg.huge != .hugetlb else { continue }
                let base = s.slotIndex(p, r, 0)
                for k in 0..<Int(reg.pages) {
                    let sl = s.slots[base + k]
                    guard sl.state == .present, sl.vm.contains(.mergeable), sl.frame != MachineState.zeroFrame else { continue }
                    let h = s.head(sl.frame)
                    let fr = s.frames[Int(h)]
                    guard fr.kind == .anon, fr.order > 0, !fr.ksm, !fr.hugetlb else { continue }
                    if splitFolio(h) { s.event(.folioSplit, p: p, r: r, i: k, from: h) }
                }
            }
        }
    }

    /// Some live process maps a page of a VMA that MADV_MERGEABLE flagged.
    func anyMergeable() -> Bool {
        for p in 0..<s.procCap where s.procs[p].alive {
            for r in 0..<s.regionCap where s.regions[s.regionIndex(p, r)].exists {
                let base = s.slotIndex(p, r, 0)
                for k in 0..<Int(s.regions[s.regionIndex(p, r)].pages) where s.slots[base + k].inVMA && s.slots[base + k].vm.contains(.mergeable) {
                    return true
                }
            }
        }
        return false
    }

    func decode(_ si: Int) -> (Int, Int, Int, Int) {
        let i = si % s.pageCap
        let pr = si / s.pageCap
        return (si, pr / s.regionCap, pr % s.regionCap, i)
    }

    /// Replaces the page at `si` with KSM page `t` (`replace_page`).
    mutating func mergeInto(_ si: Int, _ t: Int32, p: Int, r: Int, i: Int) {
        let old = s.slots[si].frame
        s.frames[Int(old)].exclusive = false
        s.frames[Int(old)].mapcount -= 1
        s.mapPTE(si, t, writable: false, dirty: s.slots[si].dirty)
        s.put(old)
        s.counters.ksmMerges += 1
        s.cover(.ksmMerge, t)
        s.event(.ksmMerge, p: p, r: r, i: i, from: old, to: t)
    }
}
