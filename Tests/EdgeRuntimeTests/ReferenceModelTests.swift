import EdgeDatasets
import EdgeImaging
import EdgeModel
import Foundation
import Testing
import TestSupport

/// The real trained model (../shared/models): the 10,000-image Fashion-MNIST test set must give the
/// accuracy PyTorch and onnxruntime measured, within 0.05 points, with BatchNorm folded by the exporter
/// and by our importer.
@Suite struct ReferenceModelTests {
    struct Reference: Decodable { let fp32_top1: Double }

    static let datasetDirectory = ProcessInfo.processInfo.environment["FASHION_MNIST_DIR"] ?? "/usr/share/datasets/fashion-mnist"

    @Test(arguments: ["resnet18-fashion-mnist.onnx", "resnet18-fashion-mnist-bn.onnx"])
    func reproducesFashionMNISTAccuracy(_ file: String) throws {
        let reference = try JSONDecoder().decode(Reference.self, from: Data(contentsOf: TestPaths.referenceModels.appendingPathComponent("reference.json")))
        let model = try ClassificationModel.load(path: TestPaths.referenceModels.appendingPathComponent(file).path, preprocess: .fashionMNIST)
        #expect(model.labels?.names.first == "T-shirt/top")
        let set = try #require(try IDXDataset.find(in: Self.datasetDirectory, split: "t10k"), "no Fashion-MNIST at \(Self.datasetDirectory)")
        #expect(set.count == 10_000)
        let classifier = try Classifier(model: model, threads: 2)
        var counter = AccuracyCounter()
        for first in stride(from: 0, to: set.count, by: 100) {
            let range = first..<min(first + 100, set.count)
            let logits = try classifier.logits(for: range.map { try set.image(at: $0) })
            for (i, scores) in zip(range, logits) { counter.add(scores: scores[...], label: set.label(at: i)) }
        }
        #expect(abs(counter.top1Accuracy - reference.fp32_top1) <= 0.0005, "top-1 \(counter.top1Accuracy) vs \(reference.fp32_top1)")
    }
}
