import ArgumentParser

@main
struct ResNetEdge: ParsableCommand {
    static let version = "0.1.0"

    static let configuration = CommandConfiguration(
        commandName: "resnet-edge",
        abstract: "Real-time ResNet-family image classification for ARM boards.",
        version: version,
        subcommands: [Classify.self, Inspect.self, Evaluate.self, Bench.self, Calibrate.self, PackageModel.self, Boards.self, Serve.self, Probe.self]
    )
}
