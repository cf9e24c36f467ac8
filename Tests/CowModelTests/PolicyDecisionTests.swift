@testable import CowModel
import Testing
import TestSupport

/// One decision per era, straight from the spec's table (§2.8).
@Suite struct PolicyDecisionTests {
    /// A page mapped once with an extra FOLL_GET reference, write-protected, then written.
    static let extraRefWrite = """
    mmap p0 r0 pages=1
    write p0 r0[0] 1
    vmsplice p0 r0[0] -> pipe0
    mprotect p0 r0 ro
    mprotect p0 r0 rw
    write p0 r0[0] 2
    """

    @Test func writeFaultWithAnExtraReferencePerEra() {
        // E0–E2 reuse (mapcount 1); E3 copy (page_count > 1); E4 reuse (exclusive); 6.x no fault at all.
        #expect(machine(Linux4_8.self, Self.extraRefWrite).0.s.counters.reuses == 1)
        #expect(machine(Linux5_7.self, Self.extraRefWrite).0.s.counters.reuses == 1)
        #expect(machine(Linux5_8.self, Self.extraRefWrite).0.s.counters.reuses == 1)
        #expect(machine(Linux5_9.self, Self.extraRefWrite).0.s.counters.copies == 1)
        #expect(machine(Linux5_18.self, Self.extraRefWrite).0.s.counters.copies == 1)
        #expect(machine(Linux5_19.self, Self.extraRefWrite).0.s.counters.reuses == 1)
        let m6 = machine(Linux6_x.self, Self.extraRefWrite).0
        #expect(m6.s.counters.reuses == 0 && m6.s.counters.copies == 0)
    }

    @Test func lruBatchReferenceCopiesOnlyIn59() {
        let text = "mmap p0 r0 pages=1\nwrite p0 r0[0] 1\nmprotect p0 r0 ro\nmprotect p0 r0 rw\nwrite p0 r0[0] 2"
        let m59 = machine(Linux5_9.self, text).0
        #expect(m59.s.counters.copies == 1 && m59.s.counters.unnecessaryCopies == 1)
        let m518 = machine(Linux5_18.self, text).0
        #expect(m518.s.counters.reuses == 1 && m518.s.counters.copies == 0)
    }

    @Test func forkCopiesPinnedPagesFrom59() {
        let text = "mmap p0 r0 pages=1\nwrite p0 r0[0] 1\npin p0 r0[0] -> g0 rw longterm\nfork p0 -> p1"
        for (name, copies) in [("4.8", machine(Linux4_8.self, text).0.s.counters.eagerForkCopies),
                               ("5.8", machine(Linux5_8.self, text).0.s.counters.eagerForkCopies)] {
            #expect(copies == 0, "linux-\(name)")
        }
        for copies in [machine(Linux5_9.self, text).0.s.counters.eagerForkCopies,
                       machine(Linux5_19.self, text).0.s.counters.eagerForkCopies,
                       machine(Linux6_x.self, text).0.s.counters.eagerForkCopies] {
            #expect(copies == 1)
        }
        // A FOLL_GET reference is not a pin: shared at fork in every era.
        let get = "mmap p0 r0 pages=1\nwrite p0 r0[0] 1\npin p0 r0[0] -> g0 rw get\nfork p0 -> p1"
        #expect(machine(Linux6_x.self, get).0.s.counters.eagerForkCopies == 0)
    }

    @Test func readPinUnsharesFrom519() {
        let text = "mmap p0 r0 pages=1\nwrite p0 r0[0] 1\nfork p0 -> p1\npin p0 r0[0] -> g0"
        let m19 = machine(Linux5_19.self, text).0
        #expect(m19.s.counters.unshares == 1)
        #expect(m19.frame(0, 0, 0).exclusive && !m19.entry(0, 0, 0).writable)
        #expect(m19.entry(0, 0, 0).frame != m19.entry(1, 0, 0).frame)
        #expect(machine(Linux5_18.self, text).0.s.counters.unshares == 0)
        // 5.8 breaks COW for the read reference instead: a write fault, the page becomes writable.
        let m58 = machine(Linux5_8.self, text).0
        #expect(m58.s.counters.copies == 1 && m58.entry(0, 0, 0).writable)
    }

    @Test func longtermReadPinOfTheZeroPageUnsharesOnlyFrom62() {
        let text = "mmap p0 r0 pages=1\nread p0 r0[0]\npin p0 r0[0] -> g0 longterm"
        #expect(machine(Linux6_x.self, text).0.entry(0, 0, 0).frame != MachineState.zeroFrame)
        #expect(machine(Linux5_19.self, text).0.entry(0, 0, 0).frame == MachineState.zeroFrame)
        let shortTerm = "mmap p0 r0 pages=1\nread p0 r0[0]\npin p0 r0[0] -> g0"
        #expect(machine(Linux6_x.self, shortTerm).0.entry(0, 0, 0).frame == MachineState.zeroFrame)
    }

    @Test func forceWriteFollowsExclusivePagesInPlaceFrom60() {
        let text = "mmap p0 r0 pages=1\nwrite p0 r0[0] 1\nmprotect p0 r0 ro\npokemem p0 r0[0] 2"
        let m6 = machine(Linux6_x.self, text).0
        #expect(m6.s.counters.reuses == 0 && m6.s.counters.copies == 0)
        #expect(m6.frame(0, 0, 0).content == 2 && !m6.entry(0, 0, 0).writable)
        let m57 = machine(Linux5_7.self, text).0
        #expect(m57.s.counters.reuses == 1, "FOLL_COW: a write fault first, which reuses")
        #expect(!m57.entry(0, 0, 0).writable)
    }

    /// The seven modelled eras come first, in chronological order (an era added later
    /// appends or inserts without editing this test's list of what it must contain).
    @Test func registryListsTheErasInOrder() {
        let names = PolicyRegistry.all.map(\.name)
        let known = ["linux-4.8", "linux-5.7", "linux-5.8", "linux-5.9", "linux-5.18", "linux-5.19", "linux-6.x"]
        #expect(names.filter(known.contains) == known)
        #expect(Set(names).count == names.count)
        func version(_ n: String) -> [Int] { n.dropFirst(6).split(separator: ".").map { Int($0) ?? 99 } }
        #expect(names.map(version) == names.map(version).sorted { $0.lexicographicallyPrecedes($1) }, "\(names)")
    }
}
