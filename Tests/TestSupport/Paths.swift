import Foundation

/// The package's root directory, found from this source file's path.
public let packageRoot: URL = URL(fileURLWithPath: #filePath)
    .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

/// Every `.cow` file under `corpus/`, sorted by name.
public func corpusFiles() -> [URL] {
    let dir = packageRoot.appendingPathComponent("corpus")
    let names = (try? FileManager.default.subpathsOfDirectory(atPath: dir.path)) ?? []
    return names.filter { $0.hasSuffix(".cow") }.sorted().map { dir.appendingPathComponent($0) }
}

/// Held by every test that changes or checks the machine-wide KSM and hugetlb knobs, so
/// suites that run in parallel never see each other's settings as the originals.
public let kernelKnobLock = NSLock()
