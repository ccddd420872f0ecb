// swift-tools-version: 6.2
// resnet-edge: real-time ResNet-family image classification on ARM boards.
// Must build with the host's Swift 6.3.1 and with Debian's Swift 6.2.3 (the aarch64 cross toolchain):
// no language feature or standard-library API newer than 6.2.
import PackageDescription

// Swift 5 language mode: the runtime hands raw arena pointers to worker threads, which strict
// Sendable checking cannot express without wrapping every pointer; the data races it would catch
// are excluded by construction (each worker writes a disjoint output tile).
let swiftSettings: [SwiftSetting] = [.swiftLanguageMode(.v5)]

let package = Package(
    name: "resnet-edge",
    products: [
        .executable(name: "resnet-edge", targets: ["ResNetEdgeCLI"]),
        .executable(name: "capture-bench", targets: ["CaptureBench"]),
        .library(name: "EdgeRuntime", targets: ["EdgeRuntime"]),
        // For the libFuzzer package in Tests/Fuzz, which links libFuzzer's own main and so lives apart.
        .library(name: "EdgeONNX", targets: ["EdgeONNX"]),
        .library(name: "EdgeModelFile", targets: ["EdgeModelFile"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        // No default traits: BinaryDelimitedStreams (on by default) imports full Foundation for its Input/OutputStream API,
        // which would link Foundation's ICU data, libcurl and libxml2 into the deployable binary; we use neither it nor
        // FieldMaskUtilities.
        .package(url: "https://github.com/apple/swift-protobuf", from: "1.39.0", traits: []),
        // The daemon's HTTP endpoints and Unix socket (NIOPosix, NIOHTTP1). Measured on the 2-core CI machine, a clean
        // debug build with swift-prometheus took 134 s; hummingbird 2.28.1 on top of the same took 313 s (836 build
        // steps against 372), twice per CI run (host and aarch64), for four fixed GET routes. See README "Packages".
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.0"),
        // Prometheus exposition (counters, gauges, histograms) for GET /metrics; depends only on swift-atomics and
        // swift-metrics, which swift-nio's graph already has or which are small.
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.4.1"),
        // HDR histograms for latency distributions (the probe, and the daemon's live percentiles through EdgeProbe).
        .package(url: "https://github.com/HdrHistogram/hdrhistogram-swift", from: "0.2.0"),
    ],
    targets: [
        // System libraries (module maps only; the C lives in Debian's packages).
        .systemLibrary(name: "COpenBLAS", path: "Sources/System/COpenBLAS", pkgConfig: "openblas",
                       providers: [.apt(["libopenblas-dev"])]),
        .systemLibrary(name: "CJPEG", path: "Sources/System/CJPEG", pkgConfig: "libturbojpeg",
                       providers: [.apt(["libturbojpeg0-dev"])]),
        .systemLibrary(name: "CPNG", path: "Sources/System/CPNG", pkgConfig: "libpng16",
                       providers: [.apt(["libpng-dev"])]),
        .systemLibrary(name: "CZlib", path: "Sources/System/CZlib", pkgConfig: "zlib",
                       providers: [.apt(["zlib1g-dev"])]),
        // libv4l2 + videodev2.h with typed wrappers for the variadic v4l2_open/v4l2_ioctl and the VIDIOC_* macros.
        .systemLibrary(name: "CV4L2", path: "Sources/System/CV4L2", pkgConfig: "libv4l2",
                       providers: [.apt(["libv4l-dev"])]),

        // INT8 micro-kernels: the only C in the project (scalar, NEON, NEON dot product, AVX2, AVX-512 VNNI,
        // chosen at run time in config.c). -O3 in debug builds too, so kernel tests stay fast under qemu.
        .target(name: "CKernels", cSettings: [.unsafeFlags(["-O3"])]),

        // Generated from onnx.proto by scripts/generate-onnx-proto.sh; never edited by hand.
        .target(name: "ONNXProtobuf",
                dependencies: [.product(name: "SwiftProtobuf", package: "swift-protobuf")]),

        // printf-style `String(printf:)` on vsnprintf: FoundationEssentials has no `String(format:)`, and the modules that
        // format numbers for people and JSON consumers share no lower module (see Sources/EdgeFormatting/Printf.swift).
        .target(name: "EdgeSupport", swiftSettings: swiftSettings),

        // The framework-independent graph IR: tensors, operators, shape inference, MAC counts.
        .target(name: "EdgeGraph", swiftSettings: swiftSettings),
        // ONNX -> EdgeGraph, with BatchNorm folding and activation fusion.
        .target(name: "EdgeONNX", dependencies: ["EdgeGraph", "ONNXProtobuf"], swiftSettings: swiftSettings),
        // Memory plan, arena, thread pool and the FP32 reference executor.
        .target(name: "EdgeRuntime", dependencies: ["EdgeGraph", "COpenBLAS", "CKernels", "EdgeSupport"], swiftSettings: swiftSettings),
        // JPEG/PNG decoding and torchvision-exact preprocessing into the model's input tensor.
        .target(name: "EdgeImaging", dependencies: ["CJPEG", "CPNG", "EdgeSupport"], swiftSettings: swiftSettings),
        // Labelled image sets (IDX, ImageFolder), label files and top-k evaluation.
        .target(name: "EdgeDatasets", dependencies: ["EdgeImaging", "CZlib", "EdgeSupport"], swiftSettings: swiftSettings),
        // Board profiles (boards/*.json, embedded) and detection of the board we run on.
        .target(name: "EdgeBoards", dependencies: ["CKernels", "EdgeSupport"], swiftSettings: swiftSettings),
        // Post-training quantization for a board: observers, weight quantization, bias correction, cross-layer
        // equalization, sensitivity analysis and the accuracy budget.
        .target(name: "EdgeCalibration", dependencies: ["EdgeGraph", "EdgeRuntime", "EdgeBoards", "EdgeSupport"], swiftSettings: swiftSettings),
        // A classifier as the tools and the daemon use it: model, preprocessing spec, labels, batched inference.
        .target(name: "EdgeModel", dependencies: ["EdgeGraph", "EdgeONNX", "EdgeRuntime", "EdgeImaging", "EdgeDatasets", "EdgeModelFile"],
                swiftSettings: swiftSettings),
        // The deployable model file (.rem): graph, metadata and pre-packed INT8 weights in one mmap-able,
        // versioned, checksummed file; the reader validates everything before handing anything out.
        .target(name: "EdgeModelFile",
                dependencies: ["EdgeGraph", "EdgeImaging", "CZlib", "CKernels", "EdgeSupport"],
                swiftSettings: swiftSettings),
        // Frame sources (V4L2 cameras, image files, raw video, a test pattern), latest-frame capture on its own thread,
        // and one-pass preprocessing from a camera frame straight into the model's input tensor.
        .target(name: "EdgeCapture", dependencies: ["EdgeImaging", "CV4L2", "CJPEG", "EdgeSupport"], swiftSettings: swiftSettings),
        // What the probe and the daemon's metrics share: CPU frequency / temperature / throttling sampling from the board
        // profile's sysfs paths, HDR latency histograms and their percentiles, peak memory and machine facts.
        .target(name: "EdgeProbe", dependencies: ["EdgeBoards", "EdgeSupport", .product(name: "Histogram", package: "hdrhistogram-swift")],
                swiftSettings: swiftSettings),
        // `resnet-edge probe`: the measuring run (per-layer steps, thread/batch sweeps, the capture pipeline stages), its
        // versioned JSON result, the self-contained HTML report and the comparison of two results.
        .target(name: "EdgeProbeTool",
                dependencies: ["EdgeProbe", "EdgeGraph", "EdgeRuntime", "EdgeModel", "EdgeModelFile", "EdgeCapture", "EdgeBoards", "EdgeImaging", "EdgeSupport"],
                swiftSettings: swiftSettings),
        // The camera-to-decision daemon (`resnet-edge serve`): TOML configuration, the frame pipeline, results over a
        // Unix socket and HTTP (latest, Server-Sent Events, Prometheus metrics, health), systemd notify/watchdog/reload.
        .target(name: "EdgeDaemon",
                dependencies: ["EdgeCapture", "EdgeModel", "EdgeModelFile", "EdgeGraph", "EdgeRuntime", "EdgeImaging", "EdgeDatasets", "EdgeBoards",
                               "EdgeProbe", "EdgeSupport",
                               .product(name: "NIOCore", package: "swift-nio"),
                               .product(name: "NIOPosix", package: "swift-nio"),
                               .product(name: "NIOHTTP1", package: "swift-nio"),
                               .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                               .product(name: "Prometheus", package: "swift-prometheus")],
                swiftSettings: swiftSettings),
        // `capture-bench`: EdgeCapture's preprocessing benchmark and a camera check (probe, capture N frames) for the VM tests.
        .executableTarget(name: "CaptureBench", dependencies: ["EdgeCapture", "EdgeImaging", "EdgeSupport"], swiftSettings: swiftSettings),
        // The `resnet-edge` command.
        .executableTarget(name: "ResNetEdgeCLI",
                          dependencies: ["EdgeGraph", "EdgeONNX", "EdgeRuntime", "EdgeImaging", "EdgeDatasets", "EdgeModel", "EdgeBoards",
                                         "EdgeCalibration", "EdgeModelFile", "EdgeDaemon", "EdgeCapture", "EdgeProbe", "EdgeProbeTool", "EdgeSupport",
                                         .product(name: "ArgumentParser", package: "swift-argument-parser")],
                          swiftSettings: swiftSettings),

        .testTarget(name: "EdgeSupportTests", dependencies: ["EdgeSupport"], swiftSettings: swiftSettings),
        .testTarget(name: "EdgeImagingTests", dependencies: ["EdgeImaging", "TestSupport"], swiftSettings: swiftSettings),
        .testTarget(name: "EdgeRuntimeTests",
                    dependencies: ["EdgeGraph", "EdgeONNX", "EdgeRuntime", "EdgeImaging", "EdgeDatasets", "EdgeModel", "TestSupport"],
                    swiftSettings: swiftSettings),
        .testTarget(name: "EdgeCalibrationTests",
                    dependencies: ["EdgeCalibration", "EdgeGraph", "EdgeONNX", "EdgeRuntime", "EdgeImaging", "EdgeDatasets",
                                   "EdgeModel", "EdgeBoards", "TestSupport"],
                    swiftSettings: swiftSettings),
        .testTarget(name: "CLITests", dependencies: ["TestSupport"], swiftSettings: swiftSettings),
        .testTarget(name: "CKernelsTests", dependencies: ["CKernels"], swiftSettings: swiftSettings),
        .testTarget(name: "EdgeModelFileTests",
                    dependencies: ["EdgeModelFile", "EdgeGraph", "EdgeONNX", "EdgeRuntime", "EdgeImaging", "CKernels", "TestSupport"],
                    swiftSettings: swiftSettings),
        .testTarget(name: "EdgeCaptureTests", dependencies: ["EdgeCapture", "EdgeImaging", "TestSupport"],
                    swiftSettings: swiftSettings),
        .testTarget(name: "EdgeDaemonTests",
                    dependencies: ["EdgeDaemon", "EdgeCapture", "EdgeBoards", "EdgeProbe", "TestSupport",
                                   .product(name: "NIOCore", package: "swift-nio"),
                                   .product(name: "NIOPosix", package: "swift-nio")],
                    swiftSettings: swiftSettings),
        .testTarget(name: "EdgeProbeTests",
                    dependencies: ["EdgeProbe", "EdgeProbeTool", "EdgeModel", "EdgeRuntime", "EdgeGraph", "EdgeBoards", "EdgeCapture",
                                   "TestSupport"],
                    swiftSettings: swiftSettings),
        .testTarget(name: "EdgeBoardsTests", dependencies: ["EdgeBoards", "TestSupport"], swiftSettings: swiftSettings),
        // Locating generated fixtures (.fixtures/, made by Tests/Fixtures/make_fixtures.py) and ../shared.
        .target(name: "TestSupport", path: "Tests/TestSupport", swiftSettings: swiftSettings),
    ]
)
