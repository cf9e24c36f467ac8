import CowModel
import Foundation

/// A self-fuzz of the `.cow` parser: seeded mutations of valid texts (bytes flipped,
/// lines deleted, duplicated and spliced, tokens stretched, control bytes, CRLF, a
/// header moved), each parsed with the header required. The parser must never trap;
/// an accepted text must print to a program that parses back to itself, and a
/// rejection must be one short printable line. `cowfuzz bench --parser N` runs it and
/// prints the figures; the test suite runs it on fixed seeds.
public enum ParserFuzz {
    /// What a run saw.
    public struct Stats: Sendable, CustomStringConvertible {
        public var inputs = 0
        public var accepted = 0
        public var rejected = 0
        public var bytes = 0
        public var seconds = 0.0
        /// The slowest single input, in seconds, and its index.
        public var slowest = 0.0
        public var slowestIndex = -1
        /// Broken properties: a round trip that changed the program, a multi-line or long error.
        public var failures: [String] = []

        public var description: String {
            let rate = seconds > 0 ? Double(inputs) / seconds : 0
            return String(format: "%d inputs (%d accepted, %d rejected, %.1f MB) in %.1f s: %.0f inputs/s; slowest input %.2f ms (#%d); %d property failure(s)",
                          inputs, accepted, rejected, Double(bytes) / 1e6, seconds, rate, slowest * 1000, slowestIndex, failures.count)
        }
    }

    /// One mutation of `text` (or a splice with `other`).
    public static func mutate(_ text: String, other: String, _ rng: inout SplitMix64) -> String {
        var bytes = Array(text.utf8)
        let rounds = 1 + rng.below(4)
        for _ in 0..<rounds {
            switch rng.below(12) {
            case 0 where !bytes.isEmpty:  // flip a byte
                bytes[rng.below(bytes.count)] ^= UInt8(truncatingIfNeeded: 1 << rng.below(8))
            case 1 where !bytes.isEmpty:  // an arbitrary byte
                bytes[rng.below(bytes.count)] = UInt8(truncatingIfNeeded: rng.next())
            case 2:  // insert interesting bytes
                let pool: [[UInt8]] = [[0], [0x0D], [0x0D, 0x0A], [0x0A], [0x09], [0x1B], [0xFF], [0xC3], [0xE2, 0x80, 0x8B],
                                       Array("#".utf8), Array("@expect ".utf8), Array(" -> ".utf8), Array("[".utf8), Array("]".utf8),
                                       Array("|".utf8), Array("=".utf8), Array(",".utf8), Array("-1".utf8), Array("99999999999999999999".utf8),
                                       Array("schedule=".utf8), Array("# cowfuzz 2\n".utf8), Array(" p63 ".utf8), Array("r1023".utf8)]
                let ins = pool[rng.below(pool.count)]
                bytes.insert(contentsOf: ins, at: rng.below(bytes.count + 1))
            case 3 where !bytes.isEmpty:  // delete a span
                let at = rng.below(bytes.count)
                bytes.removeSubrange(at..<min(bytes.count, at + 1 + rng.below(16)))
            case 4, 5:  // line surgery: delete, duplicate or swap lines
                var lines = bytes.split(separator: 0x0A, omittingEmptySubsequences: false).map(Array.init)
                guard !lines.isEmpty else { break }
                let a = rng.below(lines.count), b = rng.below(lines.count)
                switch rng.below(3) {
                case 0: lines.remove(at: a)
                case 1: lines.insert(lines[a], at: b)
                default: lines.swapAt(a, b)
                }
                bytes = Array(lines.joined(separator: [0x0A]))
            case 6:  // splice a line of the other text
                let lines = other.utf8.split(separator: 0x0A).map(Array.init)
                guard !lines.isEmpty else { break }
                let line = lines[rng.below(lines.count)]
                var mine = bytes.split(separator: 0x0A, omittingEmptySubsequences: false).map(Array.init)
                mine.insert(line, at: rng.below(mine.count + 1))
                bytes = Array(mine.joined(separator: [0x0A]))
            case 7 where !bytes.isEmpty:  // stretch a token
                let at = rng.below(bytes.count)
                bytes.insert(contentsOf: Array(repeating: bytes[at], count: 1 + rng.below(rng.chance(5) ? 5000 : 60)), at: at)
            case 8:  // CRLF everywhere
                bytes = Array(String(decoding: bytes, as: UTF8.self).replacingOccurrences(of: "\n", with: "\r\n").utf8)
            case 9 where !bytes.isEmpty:  // a digit becomes another number
                var found: Int?
                for _ in 0..<8 where found == nil {
                    let k = rng.below(bytes.count)
                    if bytes[k] >= 0x30 && bytes[k] <= 0x39 { found = k }
                }
                if let k = found {
                    let n = [0, 1, 7, 8, 255, 256, 1023, 1024, 65535, 4_294_967_296][rng.below(10)]
                    bytes.replaceSubrange(k...k, with: Array(String(n).utf8))
                }
            case 10:  // many copies of a line (long files)
                var lines = bytes.split(separator: 0x0A, omittingEmptySubsequences: false).map(Array.init)
                guard lines.count > 1 else { break }
                let line = lines[1 + rng.below(lines.count - 1)]
                lines += Array(repeating: line, count: rng.below(200))
                bytes = Array(lines.joined(separator: [0x0A]))
            default:  // truncate
                if !bytes.isEmpty { bytes.removeSubrange(rng.below(bytes.count)...) }
            }
        }
        // Invalid UTF-8 is rejected by the file reader before the parser; here it
        // becomes U+FFFD, as a String holds it.
        return String(decoding: bytes, as: UTF8.self)
    }

    /// Checks one input; returns a property failure, if any.
    public static func check(_ text: String) -> (accepted: Bool, failure: String?) {
        do {
            let p = try Program(parsing: text, file: "fuzz.cow", requireHeader: true)
            let again: Program
            do { again = try Program(parsing: p.text, file: "printed.cow", requireHeader: true) } catch {
                return (true, "its canonical text does not parse: \(error.description)")
            }
            guard again != p else { return (true, nil) }
            let diff = zip(p.text.split(separator: "\n", omittingEmptySubsequences: false), again.text.split(separator: "\n", omittingEmptySubsequences: false))
                .first { $0 != $1 }.map { "\(CowFormat.quote($0.0)) printed, \(CowFormat.quote($0.1)) read back" } ?? "comments or directives differ"
            return (true, "print then parse changed the program: \(diff)")
        } catch {
            let d = error.description
            if d.contains("\n") || d.contains("\r") { return (false, "a multi-line error: \(CowFormat.printable(d))") }
            if d.count > 600 { return (false, "an error of \(d.count) characters") }
            return (false, nil)
        }
    }

    /// Runs `count` mutated inputs from `seeds` (valid texts), deterministically from `seed`.
    public static func run(seeds: [String], count: Int, seed: UInt64) -> Stats {
        var rng = SplitMix64(seed: seed)
        var stats = Stats()
        let start = Date()
        var pool = seeds
        for i in 0..<count {
            let base = pool[rng.below(pool.count)], other = pool[rng.below(pool.count)]
            let input = mutate(base, other: other, &rng)
            let t0 = Date()
            let (accepted, failure) = check(input)
            let dt = Date().timeIntervalSince(t0)
            if dt > stats.slowest { stats.slowest = dt; stats.slowestIndex = i }
            stats.inputs += 1
            stats.bytes += input.utf8.count
            if accepted {
                stats.accepted += 1
                // Accepted mutants become seeds (bounded), so mutations compound.
                if pool.count < 4 * seeds.count + 64, input.utf8.count < 20_000 { pool.append(input) }
            } else {
                stats.rejected += 1
            }
            if let failure { stats.failures.append("input #\(i) (seed \(seed)): \(failure)") }
        }
        stats.seconds = Date().timeIntervalSince(start)
        return stats
    }
}
