import CowFuzz
import CowModel
import CowOracle
import CowReal
import Foundation

/// One row of the matrix: a cell's program and its result on each policy and the real kernel.
struct MatrixRow {
    var cell: CowMatrix.Cell
    var models: [(policy: String, result: CowMatrix.Result, outcome: PolicyOutcome)]
    /// linux-6.x's result, which the real column is held against (also when not shown).
    var reference: CowMatrix.Result?
    var real: RealReplayRow?
    var realResult: CowMatrix.Result?

    /// Both ran the cell and the results differ.
    var verdictDisagrees: Bool {
        guard let r = realResult, let m = reference, !r.skipped else { return false }
        return r != m
    }

    /// The verdicts differ, or the strict comparison found an outcome, observation or
    /// state difference before the first op the kernel here could not run.
    var disagrees: Bool { verdictDisagrees || !(real?.divergences.isEmpty ?? true) }
}

/// `cowfuzz matrix`: cow.c's backings × COW cases on every policy (and the real kernel),
/// as the selftest would print them for each era.
func runMatrix(_ argv: ArraySlice<String>) throws -> Int32 {
    let args = try Args(argv, command: "matrix")
    if let extra = args.positionals.first { throw UsageError("unexpected argument '\(extra)'") }
    let backend = args.value("--backend") ?? "model"
    guard ["model", "real", "both"].contains(backend) else {
        throw UsageError("--backend expects model, real or both, got '\(backend)'")
    }
    let withReal = backend != "model"
    if args.value("--real-tiers") != nil && !withReal {
        throw UsageError("--real-tiers needs --backend real or both (the model runs every tier)")
    }
    let policies = backend == "real" ? [] : try selectPolicies(args.value("--policies"))
    if backend == "real" && args.value("--policies") != nil {
        throw UsageError("--policies needs --backend model or both (--backend real shows the real column only)")
    }
    let scenarios = try args.list("--scenarios"), cases = try args.list("--cases")
    for (given, known, what) in [(scenarios, CowMatrix.scenarios.map(\.name), "scenario"), (cases, CowMatrix.cases.map(\.name), "case")] {
        if let bad = given?.first(where: { !known.contains($0) }) {
            throw UsageError("unknown \(what) '\(bad)' (one of \(known.joined(separator: ", ")))")
        }
    }
    let cells = CowMatrix.cells(scenarios: scenarios, cases: cases)
    guard !cells.isEmpty else { throw UsageError("--scenarios and --cases select no cell") }
    let emit = args.value("--emit")
    if let emit {
        do { try OutputFile.checkDirectory(emit) } catch { throw UsageError("--emit \(emit): \(error.reason)") }
    }
    let tiers = try realTiers(args)
    if withReal { try requireRealBackend() }

    let rows = try matrixRows(cells, policies: policies, real: withReal, tiers: tiers)
    if let emit { try emitMatrix(rows, to: emit) }
    if args.flag("--json") {
        print(matrixJSON(rows, policies: policies.map(\.name), backend: backend, tiers: tiers))
    } else {
        printMatrix(rows, policies: policies.map(\.name), real: withReal, tiers: tiers)
    }
    return rows.contains { $0.disagrees || ($0.real?.real.timedOut ?? false) } ? 1 : 0
}

/// Every cell on the policies and, with `real`, on this machine's kernel.
func matrixRows(_ cells: [CowMatrix.Cell], policies: [PolicyEntry], real: Bool, tiers: RealTiers) throws -> [MatrixRow] {
    let checker = ProgramChecker(policies: policies, options: RunOptions(paranoid: true))
    let referenceChecker = policies.contains { $0.name == realModelPolicy } ? nil
        : PolicyRegistry.named(realModelPolicy).map { ProgramChecker(policies: [$0], options: RunOptions(paranoid: true)) }
    var rows: [MatrixRow] = []
    for cell in cells {
        let models = CowMatrix.runModel(cell, checker: checker)
        var row = MatrixRow(cell: cell, models: models)
        guard real else {
            rows.append(row)
            continue
        }
        row.reference = models.first { $0.policy == realModelPolicy }?.result
            ?? referenceChecker.flatMap { CowMatrix.runModel(cell, checker: $0).first?.result }
        let r = try realReplayRow(file: cell.fileName, program: cell.program, policies: [], tiers: tiers)
        row.real = r
        row.realResult = realMatrixResult(cell, r)
        rows.append(row)
    }
    return rows
}

/// The real run of a cell as a matrix result: the same rule as the model's, on the
/// helper's statuses (with its reasons) and the page states it read.
func realMatrixResult(_ cell: CowMatrix.Cell, _ r: RealReplayRow) -> CowMatrix.Result {
    if r.real.timedOut { return .skip(reason: "timed out", op: r.real.steps.count) }
    return CowMatrix.result(of: cell, statuses: r.real.trace.statuses, verdicts: r.realVerdicts, detail: { i in
        r.real.skips.first { $0.op == i }?.detail ?? (i < r.real.steps.count ? r.real.steps[i].detail : nil)
    }, page: { k in
        guard k < r.real.steps.count,
              let s = r.real.steps[k].pages.first(where: { $0.process == 0 && $0.region == 0 && $0.page == 0 }) else { return nil }
        return CowMatrix.ProbedPage(pmd: s.flags.contains(.pmd), swapped: s.swapped)
    })
}

func printMatrix(_ rows: [MatrixRow], policies: [String], real: Bool, tiers: RealTiers) {
    func pad(_ s: String, _ n: Int) -> String { s.padding(toLength: max(n, s.count), withPad: " ", startingAt: 0) }
    func trim(_ s: String) -> String { String(s.reversed().drop { $0 == " " }.reversed()) }
    func at(_ row: MatrixRow, _ op: Int) -> String {
        op < row.cell.program.ops.count ? "op \(op) '\(row.cell.program.ops[op].text)'" : "the end"
    }
    // A model column's skip is `skip[N]`, N a note below; the real column, the last, says why in full.
    var keys: [String] = []
    func modelText(_ r: CowMatrix.Result) -> String {
        guard case let .skip(why, _) = r else { return r.text }
        if !keys.contains(why) { keys.append(why) }
        return "skip[\(keys.firstIndex(of: why)! + 1)]"
    }
    let texts = rows.map { row in policies.map { p in row.models.first { $0.policy == p }.map { modelText($0.result) } ?? "" } }
    let sw = max(8, rows.map(\.cell.scenario.name.count).max() ?? 0) + 2
    let cw = max(4, rows.map(\.cell.testCase.name.count).max() ?? 0) + 2
    let widths = policies.indices.map { k in max(policies[k].count, texts.map { $0[k].count }.max() ?? 0) + 2 }
    var header = pad("scenario", sw) + pad("case", cw)
    for (p, w) in zip(policies, widths) { header += pad(p, w) }
    if real { header += "real" }
    print(trim(header))
    var notes: [String] = []
    var last = ""
    for (row, cells) in zip(rows, texts) {
        var line = pad(row.cell.scenario.name == last ? "" : row.cell.scenario.name, sw) + pad(row.cell.testCase.name, cw)
        last = row.cell.scenario.name
        for (t, w) in zip(cells, widths) { line += pad(t, w) }
        if let r = row.realResult { line += (row.disagrees ? "!" : "") + r.text }
        print(trim(line))
        if row.verdictDisagrees, let r = row.realResult, let m = row.reference {
            notes.append("DIFFER \(row.cell.name): real \(r.text), \(realModelPolicy) \(m.text)")
        }
        for d in row.real?.divergences ?? [] {
            notes.append("DIFFER \(row.cell.name): \(d.kind.rawValue) at \(at(row, d.op))"
                + (d.page.map { " " + $0 } ?? "") + ": \(d.what): real \(d.real), \(realModelPolicy) \(d.model)")
        }
    }
    let kinds = ["pass", "fail", "skip"]
    func counts(_ rs: [CowMatrix.Result]) -> String { kinds.map { k in "\(rs.filter { $0.kind == k }.count) \(k)" }.joined(separator: ", ") }
    print("\n\(rows.count) cell(s): \(Set(rows.map(\.cell.scenario.name)).count) scenario(s) × \(Set(rows.map(\.cell.testCase.name)).count) case(s)")
    for p in policies { print("  " + pad(p, 12) + counts(rows.compactMap { $0.models.first { $0.policy == p }?.result })) }
    if real {
        print("  " + pad("real", 12) + counts(rows.compactMap(\.realResult))
            + " (tiers: \(tiers.text)); \(rows.filter(\.disagrees).count) disagreeing with \(realModelPolicy) ('!' marks them)")
    }
    // Each model skip note: the reason, then where, per policy group.
    for (n, why) in keys.enumerated() {
        var byCell: [String] = []
        for row in rows {
            let who = row.models.filter { if case .skip(why, _) = $0.result { true } else { false } }
            guard let first = who.first, case let .skip(_, op) = first.result else { continue }
            let names = who.count == row.models.count ? "every policy" : who.map(\.policy).joined(separator: ",")
            byCell.append("\(row.cell.name) (\(names), \(at(row, op)))")
        }
        print("  skip[\(n + 1)] \(why): " + byCell.joined(separator: "; "))
    }
    for n in notes { print(n) }
}

func matrixJSON(_ rows: [MatrixRow], policies: [String], backend: String, tiers: RealTiers) -> String {
    func cellJSON(_ r: CowMatrix.Result, verdicts: VerdictSet) -> [String: Any] {
        var d: [String: Any] = ["result": r.kind, "text": r.text, "verdicts": verdicts.verdicts.map(\.name)]
        if case let .skip(why, op) = r {
            d["reason"] = why
            d["op"] = op
        }
        return d
    }
    let list: [[String: Any]] = rows.map { row in
        var cells: [String: Any] = [:]
        for m in row.models { cells[m.policy] = cellJSON(m.result, verdicts: m.outcome.verdicts) }
        if let r = row.realResult, let run = row.real {
            var d = cellJSON(r, verdicts: run.realVerdicts)
            d["agrees"] = !row.disagrees
            d["reference"] = row.reference?.text
            d["divergences"] = run.divergences.map { x -> [String: Any] in
                var e: [String: Any] = ["kind": x.kind.rawValue, "op": x.op, "what": x.what, "real": x.real, "model": x.model]
                if let p = x.page { e["page"] = p }
                return e
            }
            cells["real"] = d
        }
        return ["scenario": row.cell.scenario.name, "case": row.cell.testCase.name, "file": row.cell.fileName,
                "program": row.cell.program.text, "cells": cells]
    }
    var doc: [String: Any] = ["formatVersion": 1, "backend": backend, "policies": policies, "rows": list,
                              "scenarios": CowMatrix.scenarios.map { ["name": $0.name, "title": $0.title] },
                              "cases": CowMatrix.cases.map { ["name": $0.name, "title": $0.title] }]
    if backend != "model" { doc["realTiers"] = tiers.text }
    let data = (try? JSONSerialization.data(withJSONObject: doc, options: [.prettyPrinted, .sortedKeys])) ?? Data()
    return String(data: data, encoding: .utf8) ?? "{}"
}

/// `--emit DIR`: every cell's program as `SCENARIO.CASE.cow`, with `@expect` lines of the
/// verdicts this run saw (the real kernel's only where it ran the cell), so that
/// `cowfuzz replay` and `explain` reproduce one cell.
func emitMatrix(_ rows: [MatrixRow], to dir: String) throws {
    do { try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true) } catch {
        throw UsageError("--emit \(dir): \(error.localizedDescription)")
    }
    for row in rows {
        var p = row.cell.program
        var seen = row.models.map { ($0.policy, $0.outcome.verdicts) }
        if let r = row.realResult, !r.skipped, let run = row.real { seen.append((RealBackend.policyName, run.realVerdicts)) }
        p.expectations = Expectation.compact(seen.map { (policy: $0.0, verdicts: $0.1) })
        let results = row.models.map { "\($0.policy) \($0.result.text)" } + (row.realResult.map { ["real \($0.text)"] } ?? [])
        p.comments.append(" matrix: " + results.joined(separator: " · "))
        let path = (dir as NSString).appendingPathComponent(row.cell.fileName)
        do { try OutputFile.write(Data(p.text.utf8), to: path) } catch { throw UsageError("--emit \(path): \(error.reason)") }
    }
}
