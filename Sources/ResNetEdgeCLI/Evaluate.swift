import ArgumentParser
import EdgeDatasets
import EdgeImaging
import EdgeModel
import EdgeModelFile
import EdgeRuntime
#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import EdgeSupport

struct Evaluate: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Measure top-1/top-5 accuracy on a labelled set.",
        discussion: "The set is an IDX directory (MNIST/Fashion-MNIST, e.g. /usr/share/datasets/fashion-mnist) or an ImageFolder tree (DIR/<class>/<image>). An IDX set is 28x28 gray: unless --preprocess says otherwise it uses the fashion-mnist preprocessing.")

    @OptionGroup var modelOptions: ModelOptions
    @OptionGroup var runtimeOptions: RuntimeOptions

    @Option(name: .long, help: "The labelled set.")
    var dataset: String

    @Option(name: .long, help: "IDX split: t10k (test) or train.")
    var split = "t10k"

    @Option(name: .long, help: "Images per inference batch.")
    var batch = 64

    @Option(name: .long, help: "Evaluate only the first N images.")
    var limit: Int?

    @Flag(name: .long, help: "Print the result as JSON.")
    var json = false

    func validate() throws {
        guard batch >= 1 else { throw ValidationError("--batch must be at least 1") }
        if let limit, limit < 1 { throw ValidationError("--limit must be at least 1") }
    }

    func run() throws {
        var options = modelOptions
        let probe = try DatasetLoader.open(dataset, split: split)
        let isModelFile = ModelFile.looksLikeModelFile(URL(fileURLWithPath: options.model))  // carries its own preprocessing
        if probe is IDXDataset && options.preprocess == nil && !isModelFile { options.preprocess = "fashion-mnist" }
        let model = try options.load()
        let set = try DatasetLoader.open(dataset, split: split, labels: model.labels)
        let threads = try options.resolvedThreads()
        let classifier = try Classifier(model: model, options: runtimeOptions.sessionOptions(threads: threads))
        let total = min(limit ?? set.count, set.count)
        var counter = AccuracyCounter()
        var failures = 0
        let start = Date()
        for first in stride(from: 0, to: total, by: batch) {
            var images: [DecodedImage] = [], labels: [Int] = []
            for i in first..<min(first + batch, total) {
                do {
                    images.append(try set.image(at: i))
                    labels.append(set.label(at: i))
                } catch {
                    printError("error: \(error)")
                    failures += 1
                }
            }
            for (scores, label) in zip(try classifier.logits(for: images), labels) {
                counter.add(scores: scores[...], label: label)
            }
        }
        let seconds = Date().timeIntervalSince(start)
        if json {
            print(jsonLine(["model": model.path, "dataset": set.summary, "images": counter.total, "failed": failures,
                            "top1": counter.top1Accuracy, "top5": counter.top5Accuracy, "seconds": seconds,
                            "images_per_second": Double(counter.total) / seconds, "threads": threads,
                            "preprocess": model.preprocessSource, "precision": classifier.session.runsINT8 ? "int8" : "fp32",
                            "kernels": classifier.session.runsINT8 ? classifier.session.kernelVariant.rawValue : "fp32"]))
        } else {
            print("\(model.path) on \(set.summary), preprocessing: \(model.preprocessSource), \(classifier.session.precisionSummary)")
            print(String(printf: "top-1 %.4f (%d/%d)  top-5 %.4f  %.1f s, %.0f images/s, %d threads", counter.top1Accuracy, counter.top1,
                         counter.total, counter.top5Accuracy, seconds, Double(counter.total) / seconds, threads))
        }
        if failures > 0 { throw ExitCode(1) }
    }
}
