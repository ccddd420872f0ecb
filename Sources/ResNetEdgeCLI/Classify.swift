import ArgumentParser
import EdgeImaging
import EdgeModel
import EdgeRuntime
#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import EdgeSupport

struct Classify: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Classify images and print the top classes.",
        discussion: "A file that cannot be read or decoded is reported on standard error; the others are still classified, and the exit status is 1.")

    @OptionGroup var modelOptions: ModelOptions
    @OptionGroup var runtimeOptions: RuntimeOptions

    @Option(name: .long, help: "How many classes to print per image.")
    var top = 5

    @Flag(name: .long, help: "One JSON object per image on standard output.")
    var json = false

    @Flag(name: .long, help: "With --json: include the raw logits.")
    var logits = false

    @Option(name: .long, help: "Images per inference batch.")
    var batch = 8

    @Argument(help: "JPEG or PNG files.")
    var images: [String]

    func validate() throws {
        guard top >= 1 else { throw ValidationError("--top must be at least 1") }
        guard batch >= 1 else { throw ValidationError("--batch must be at least 1") }
        if logits && !json { throw ValidationError("--logits needs --json") }
    }

    func run() throws {
        let model = try modelOptions.load()
        let classifier = try Classifier(model: model, options: runtimeOptions.sessionOptions(threads: try modelOptions.resolvedThreads()))
        var failures = 0
        for start in stride(from: 0, to: images.count, by: batch) {
            var decoded: [(path: String, image: DecodedImage)] = []
            for path in images[start..<min(start + batch, images.count)] {
                do {
                    decoded.append((path, try ImageDecoder.decode(path: path)))
                } catch {
                    printError("error: \(error)")
                    failures += 1
                }
            }
            let results = try classifier.logits(for: decoded.map(\.image))
            for ((path, _), scores) in zip(decoded, results) {
                let c = Classification(logits: scores, model: model, k: top)
                if json {
                    var object: [String: Any] = ["image": path, "top": c.indices, "labels": c.labels,
                                                 "probabilities": c.probabilities.map { Double($0) }]
                    if logits { object["logits"] = c.logits.map { Double($0) } }
                    print(jsonLine(object))
                } else {
                    print(path)
                    for (index, (label, p)) in zip(c.indices, zip(c.labels, c.probabilities)) {
                        print(String(printf: "  %6.2f%%  %@ (%d)", Double(p) * 100, label, index))
                    }
                }
            }
        }
        if failures > 0 { throw ExitCode(1) }
    }
}
