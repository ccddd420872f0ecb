import EdgeDatasets
import EdgeImaging
import EdgeModel
import Foundation
import Testing
import TestSupport

/// The real trained model (../shared/models) on the Fashion-MNIST test set: per image, our logits
/// against onnxruntime's (max |diff| <= 1e-3 x max |logit|, same top-1), and over the whole set the
/// top-1 accuracy PyTorch measured, within 0.05 points, with BatchNorm folded by the exporter and by our importer.
@Suite struct ReferenceModelTests {
    struct Reference: Decodable { let fp32_top1: Double }

    static let datasetDirectory = ProcessInfo.processInfo.environment["FASHION_MNIST_DIR"] ?? "/usr/share/datasets/fashion-mnist"

    @Test(arguments: ["resnet18-fashion-mnist.onnx", "resnet18-fashion-mnist-bn.onnx"])
    func reproducesFashionMNIST(_ file: String) throws {
        let manifest = try FixtureManifest.load()
        let oracle = try #require(manifest.fashion_mnist, "the fixtures have no Fashion-MNIST logits")
        let oracleLogits = try readFloat32File(manifest.url(oracle.logits))
        let reference = try JSONDecoder().decode(Reference.self, from: Data(contentsOf: TestPaths.referenceModels.appendingPathComponent("reference.json")))
        let model = try ClassificationModel.load(path: TestPaths.referenceModels.appendingPathComponent(file).path, preprocess: .fashionMNIST)
        #expect(model.labels?.names.first == "T-shirt/top")
        let set = try #require(try IDXDataset.find(in: Self.datasetDirectory, split: "t10k"), "no Fashion-MNIST at \(Self.datasetDirectory)")
        #expect(set.count == oracle.images)
        let count = TestSubset.fashionMNISTImages(set.count)
        let classifier = try Classifier(model: model, threads: 2)
        var counter = AccuracyCounter()
        var worst = 0.0, disagreements: [Int] = []
        for first in stride(from: 0, to: count, by: 100) {
            let range = first..<min(first + 100, count)
            let logits = try classifier.logits(for: range.map { try set.image(at: $0) })
            for (i, scores) in zip(range, logits) {
                counter.add(scores: scores[...], label: set.label(at: i))
                let theirs = oracleLogits[(i * 10)..<((i + 1) * 10)]
                let scale = Double(theirs.map { abs($0) }.max() ?? 1)
                worst = max(worst, Double(zip(scores, theirs).map { abs($0 - $1) }.max() ?? 0) / scale)
                if topK(scores[...], k: 1) != topK(theirs, k: 1) { disagreements.append(i) }
            }
        }
        print("reference-model \(file): \(count) images, top-1 \(counter.top1Accuracy), worst relative logit error \(worst)")
        #expect(worst <= 1e-3, "worst relative logit difference \(worst)")
        #expect(disagreements.isEmpty, "top-1 differs from onnxruntime on images \(disagreements.prefix(10))")
        if count == set.count {
            #expect(abs(counter.top1Accuracy - reference.fp32_top1) <= 0.0005, "top-1 \(counter.top1Accuracy) vs \(reference.fp32_top1)")
        }
    }
}
