import EdgeDatasets
import EdgeGraph
import EdgeImaging
import EdgeRuntime

/// Classifies decoded images in batches: preprocessing writes straight into the session's NHWC input.
public final class Classifier {
    public let model: ClassificationModel
    public let session: InferenceSession

    public convenience init(model: ClassificationModel, threads: Int) throws {
        try self.init(model: model, options: SessionOptions(threads: threads))
    }

    /// A quantized (QDQ) model runs INT8 unless `options.precision` says otherwise; preprocessing still
    /// writes float into the session's input, which the first step quantizes.
    public init(model: ClassificationModel, options: SessionOptions) throws {
        self.model = model
        session = try InferenceSession(graph: model.graph, options: options, prepacked: model.prepacked)
    }

    /// The logits of each image, in order.
    public func logits(for images: [DecodedImage]) throws -> [[Float]] {
        guard !images.isEmpty else { return [] }
        let spec = model.preprocess
        try session.prepare(inputShape: Shape([images.count, spec.channels, spec.inputHeight, spec.inputWidth]))
        let input = try session.inputBuffer()
        for (i, image) in images.enumerated() {
            try spec.preprocess(image, into: input + i * spec.elementCount, layout: .nhwc)
        }
        try session.execute()
        let output = try session.output()
        return (0..<images.count).map { Array(output.values[($0 * model.classes)..<(($0 + 1) * model.classes)]) }
    }
}

/// One image's result: the top-k classes with probabilities.
public struct Classification: Sendable {
    public let indices: [Int]
    public let labels: [String]
    public let probabilities: [Float]
    public let logits: [Float]

    public init(logits: [Float], model: ClassificationModel, k: Int) {
        let probabilities = softmax(logits[...])
        indices = topK(logits[...], k: min(k, logits.count))
        labels = indices.map(model.label)
        self.probabilities = indices.map { probabilities[$0] }
        self.logits = logits
    }
}
