#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import EdgeSupport

/// How an image becomes a model's input tensor — the torchvision pipeline
/// `[Grayscale] -> Resize(resize) -> CenterCrop((cropHeight, cropWidth)) -> ToTensor -> Normalize(mean, std)
///  -> [Pad(pad)] -> [replicate gray to `channels`]`, on Pillow images with BILINEAR resampling.
///
/// JSON form (the sidecar `<model stem>.preprocess.json`, see `sidecarURL(forModel:)`; also the format of a
/// preset in the test fixtures' manifest):
///
/// ```json
/// {"resize": 256, "crop": [224, 224], "mean": [0.485, 0.456, 0.406], "std": [0.229, 0.224, 0.225],
///  "grayscale": false, "pad": 0, "channels": 3}
/// ```
///
/// | key | type | meaning | default |
/// |---|---|---|---|
/// | `resize` | int | target of the shorter side (the longer one is `int(resize * long / short)`); 0 = no resize | required |
/// | `crop` | `[height, width]` or one int for a square | centre crop; an image smaller than it is zero-padded first | required |
/// | `mean`, `std` | 1 or 3 numbers | per output channel (1 value applies to all) of `x / 255`; read as float32 | required |
/// | `grayscale` | bool | convert to Pillow `L` before resizing (else to `RGB`) | false |
/// | `pad` | int | pixels added on each side after normalising, with the value 0 maps to (`-mean/std`) | 0 |
/// | `channels` | 1 or 3 | output channels; 3 with `grayscale` replicates the gray channel | 1 if grayscale, else 3 |
///
/// The model input is `channels` x (`cropHeight + 2*pad`) x (`cropWidth + 2*pad`).
public struct PreprocessSpec: Codable, Equatable, Sendable {
    /// Shorter-side target of the resize; 0 = no resize.
    public var resize: Int
    public var cropHeight: Int
    public var cropWidth: Int
    /// 1 or 3 values (one per output channel; a single value applies to every channel).
    public var mean: [Float]
    public var std: [Float]
    /// Convert to 8-bit gray (Pillow `L`) before resizing; otherwise to RGB.
    public var grayscale: Bool
    /// Pixels added on each side after normalisation, filled with the value that pixel 0 maps to.
    public var pad: Int
    /// Channels of the model input: 3 (RGB, or gray replicated) or 1 (gray).
    public var channels: Int

    public init(resize: Int, cropHeight: Int, cropWidth: Int, mean: [Float], std: [Float],
                grayscale: Bool = false, pad: Int = 0, channels: Int? = nil) {
        self.resize = resize
        self.cropHeight = cropHeight
        self.cropWidth = cropWidth
        self.mean = mean
        self.std = std
        self.grayscale = grayscale
        self.pad = pad
        self.channels = channels ?? (grayscale ? 1 : 3)
    }

    // MARK: Presets

    public static let imagenetMean: [Float] = [0.485, 0.456, 0.406]
    public static let imagenetStd: [Float] = [0.229, 0.224, 0.225]

    /// torchvision's ImageNet evaluation transform scaled to the input size: `Resize(round(min(h, w) * 256 / 224))`,
    /// `CenterCrop((h, w))`, ImageNet mean/std. 224x224 gives the classic Resize(256) + CenterCrop(224).
    public static func imagenet(height: Int = 224, width: Int = 224) -> PreprocessSpec {
        let resize = Int((Double(min(height, width)) * 256 / 224).rounded())
        return PreprocessSpec(resize: resize, cropHeight: height, cropWidth: width,
                              mean: imagenetMean, std: imagenetStd)
    }

    /// The reference Fashion-MNIST ResNet18 (../shared/models): gray, 28x28, (x - 0.286) / 0.353,
    /// padded by 2 to 32x32 and replicated to 3 channels.
    public static let fashionMNIST = PreprocessSpec(resize: 28, cropHeight: 28, cropWidth: 28, mean: [0.286],
                                                    std: [0.353], grayscale: true, pad: 2, channels: 3)

    // MARK: Derived sizes

    /// Model input height: `cropHeight + 2 * pad`.
    public var inputHeight: Int { cropHeight + 2 * pad }
    /// Model input width: `cropWidth + 2 * pad`.
    public var inputWidth: Int { cropWidth + 2 * pad }
    /// Floats per image: `channels * inputHeight * inputWidth`.
    public var elementCount: Int { channels * inputHeight * inputWidth }
    /// Channels of the intermediate uint8 crop: 1 if `grayscale`, else 3.
    public var cropChannels: Int { grayscale ? 1 : 3 }

    /// The per-image shape in `layout` ([C, H, W] or [H, W, C]).
    public func inputShape(layout: TensorLayout) -> [Int] {
        switch layout {
        case .nchw: return [channels, inputHeight, inputWidth]
        case .nhwc: return [inputHeight, inputWidth, channels]
        }
    }

    /// Throws `.invalidSpec` naming the first problem.
    public func validate(source: String = "preprocess spec") throws {
        func bad(_ why: String) -> ImageError { ImageError(.invalidSpec, path: source, cause: "invalid preprocess spec: \(why)") }
        if resize < 0 { throw bad("resize \(resize) is negative") }
        if cropHeight <= 0 || cropWidth <= 0 { throw bad("crop \(cropHeight)x\(cropWidth) is empty") }
        if pad < 0 { throw bad("pad \(pad) is negative") }
        if channels != 1 && channels != 3 { throw bad("channels must be 1 or 3, not \(channels)") }
        if channels == 1 && !grayscale { throw bad("1 output channel needs grayscale: true") }
        for (key, values) in [("mean", mean), ("std", std)] {
            if values.count != 1 && values.count != 3 { throw bad("\(key) needs 1 or 3 values, not \(values.count)") }
            if values.count == 3 && channels == 1 { throw bad("\(key) has 3 values for 1 output channel") }
            if !values.allSatisfy({ $0.isFinite }) { throw bad("\(key) \(values) is not finite") }
        }
        if std.contains(0) { throw bad("std \(std) contains 0") }
        let limit = 1 << 16
        if resize > limit || cropHeight > limit || cropWidth > limit || pad > limit { throw bad("size above \(limit)") }
    }

    // MARK: JSON

    enum CodingKeys: String, CodingKey {
        case resize, crop, mean, std, grayscale, pad, channels
    }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        resize = try c.decode(Int.self, forKey: .resize)
        if let square = try? c.decode(Int.self, forKey: .crop) {
            cropHeight = square; cropWidth = square
        } else {
            let hw = try c.decode([Int].self, forKey: .crop)
            guard hw.count == 2 else {
                throw DecodingError.dataCorruptedError(forKey: .crop, in: c,
                                                       debugDescription: "crop must be [height, width] or one integer")
            }
            cropHeight = hw[0]; cropWidth = hw[1]
        }
        mean = try c.decode([Float].self, forKey: .mean)
        std = try c.decode([Float].self, forKey: .std)
        grayscale = try c.decodeIfPresent(Bool.self, forKey: .grayscale) ?? false
        pad = try c.decodeIfPresent(Int.self, forKey: .pad) ?? 0
        channels = try c.decodeIfPresent(Int.self, forKey: .channels) ?? (grayscale ? 1 : 3)
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(resize, forKey: .resize)
        try c.encode([cropHeight, cropWidth], forKey: .crop)
        try c.encode(mean, forKey: .mean)
        try c.encode(std, forKey: .std)
        try c.encode(grayscale, forKey: .grayscale)
        try c.encode(pad, forKey: .pad)
        try c.encode(channels, forKey: .channels)
    }

    /// Parses and validates a JSON spec; errors are `.invalidSpec` naming `source`.
    public static func decode(json: Data, source: String = "preprocess spec") throws -> PreprocessSpec {
        let spec: PreprocessSpec
        do {
            spec = try JSONDecoder().decode(PreprocessSpec.self, from: json)
        } catch let error as DecodingError {
            throw ImageError(.invalidSpec, path: source, cause: "invalid preprocess spec: \(describe(error))")
        }
        try spec.validate(source: source)
        return spec
    }

    /// The JSON form (sorted keys, one line).
    public func jsonData() throws -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        return try encoder.encode(self)
    }

    /// Reads and validates a JSON spec file.
    public static func load(contentsOf url: URL) throws -> PreprocessSpec {
        let bytes = try ImageDecoder.readFile(url.path)
        return try decode(json: Data(bytes), source: url.path)
    }

    /// `<dir>/<model file name without extension>.preprocess.json`, e.g. `resnet18.onnx` -> `resnet18.preprocess.json`.
    public static func sidecarURL(forModel model: URL) -> URL {
        let stem = model.deletingPathExtension().lastPathComponent
        return model.deletingLastPathComponent().appendingPathComponent(stem + ".preprocess.json")
    }

    /// The model's sidecar spec if the file exists (nil if it does not; throws if it exists but is invalid).
    public static func sidecar(forModel model: URL) throws -> PreprocessSpec? {
        let url = sidecarURL(forModel: model)
        guard FileManager.default.fileExists(atPath: url.path) else { return nil }
        return try load(contentsOf: url)
    }

    private static func describe(_ error: DecodingError) -> String {
        func path(_ p: [CodingKey]) -> String { p.isEmpty ? "top level" : p.map { $0.intValue.map(String.init) ?? $0.stringValue }.joined(separator: ".") }
        switch error {
        case .keyNotFound(let key, _): return "missing key \"\(key.stringValue)\""
        case .typeMismatch(let type, let ctx): return "\(path(ctx.codingPath)): expected \(type)"
        case .valueNotFound(let type, let ctx): return "\(path(ctx.codingPath)): expected \(type), found null"
        case .dataCorrupted(let ctx):
            if let underlying = ctx.underlyingError { return "not valid JSON (\(errorReason(underlying)))" }
            return "\(path(ctx.codingPath)): \(ctx.debugDescription)"
        @unknown default: return "\(error)"
        }
    }
}

/// Memory layout of a model input tensor.
public enum TensorLayout: String, Sendable, Equatable, CaseIterable, Codable {
    /// Channels, then rows, then columns (PyTorch/ONNX).
    case nchw
    /// Rows, then columns, then channels (interleaved).
    case nhwc
}
