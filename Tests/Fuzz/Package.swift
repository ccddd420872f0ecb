// swift-tools-version: 6.2
// libFuzzer targets. A separate package because libFuzzer supplies `main`: built only by
// scripts/fuzz.sh with `--sanitize=fuzzer`, never by the main package's `swift build`.
import PackageDescription

let package = Package(
    name: "resnet-edge-fuzz",
    dependencies: [.package(name: "resnet-edge", path: "../..")],
    targets: [
        .executableTarget(name: "FuzzONNXReader",
                          dependencies: [.product(name: "EdgeONNX", package: "resnet-edge")],
                          swiftSettings: [.swiftLanguageMode(.v5)]),
        .executableTarget(name: "FuzzModelFileReader",
                          dependencies: [.product(name: "EdgeModelFile", package: "resnet-edge")],
                          swiftSettings: [.swiftLanguageMode(.v5)]),
    ]
)
