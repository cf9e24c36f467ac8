// swift-tools-version: 6.2
// cowfuzz: a model-based, differential fuzzer for Linux copy-on-write and GUP semantics.
// Toolchain only: no package dependencies.
import PackageDescription

let package = Package(
    name: "cowfuzz",
    products: [
        .executable(name: "cowfuzz", targets: ["cowfuzz"]),
        .library(name: "CowModel", targets: ["CowModel"]),
        .library(name: "CowOracle", targets: ["CowOracle"]),
        .library(name: "CowFuzz", targets: ["CowFuzz"]),
    ],
    targets: [
        .target(name: "CowModel"),
        .target(name: "CowOracle", dependencies: ["CowModel"]),
        .target(name: "CowFuzz", dependencies: ["CowOracle", "CowModel"]),
        .target(name: "CRealKernel"),
        .target(name: "CowReal", dependencies: ["CowModel", "CRealKernel"]),
        // The real backend's helper process (plain C): the Swift side spawns it and never forks itself.
        .executableTarget(name: "CowRealExec", dependencies: ["CRealKernel"]),
        .executableTarget(name: "cowfuzz", dependencies: ["CowFuzz", "CowReal", "CowOracle", "CowModel"]),
        // The libFuzzer entry: Scripts/libfuzzer.sh builds it with -sanitize=fuzzer; a plain build is a replayer.
        .executableTarget(name: "CowLibFuzzer", dependencies: ["CowFuzz", "CowOracle", "CowModel", "CLibFuzzerShim"]),
        .target(name: "CLibFuzzerShim"),
        .target(name: "TestSupport", dependencies: ["CowModel", "CowFuzz"], path: "Tests/TestSupport"),
        .testTarget(name: "CowModelTests", dependencies: ["CowModel", "TestSupport"]),
        .testTarget(name: "CowOracleTests", dependencies: ["CowOracle", "CowModel", "TestSupport"]),
        .testTarget(name: "CowFuzzTests", dependencies: ["CowFuzz", "CowOracle", "CowModel", "TestSupport"]),
        .testTarget(name: "CowCLITests", dependencies: ["TestSupport"]),
        .testTarget(name: "CowRealTests", dependencies: ["CowReal", "CowOracle", "CowModel", "TestSupport"]),
    ]
)
