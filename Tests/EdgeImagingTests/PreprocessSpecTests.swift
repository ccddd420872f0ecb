import EdgeImaging
import Foundation
import Testing

/// The spec's presets, JSON form, validation and the size arithmetic (torchvision's integer rules).
@Suite struct PreprocessSpecTests {
    @Test func presets() {
        let imagenet = PreprocessSpec.imagenet()
        #expect(imagenet.resize == 256 && imagenet.cropHeight == 224 && imagenet.cropWidth == 224)
        #expect(imagenet.mean == [0.485, 0.456, 0.406] && imagenet.std == [0.229, 0.224, 0.225])
        #expect(!imagenet.grayscale && imagenet.pad == 0 && imagenet.channels == 3)
        #expect(imagenet.inputShape(layout: .nchw) == [3, 224, 224])
        #expect(PreprocessSpec.imagenet(height: 192, width: 160).resize == 183)   // round(160 * 256 / 224)
        #expect(PreprocessSpec.imagenet(height: 299, width: 299).resize == 342)   // round(341.71)
        #expect(PreprocessSpec.imagenet(height: 288, width: 288).resize == 329)   // round(329.14)

        let fashion = PreprocessSpec.fashionMNIST
        #expect(fashion.resize == 28 && fashion.cropHeight == 28 && fashion.grayscale && fashion.pad == 2)
        #expect(fashion.channels == 3 && fashion.inputHeight == 32 && fashion.inputWidth == 32)
        #expect(fashion.inputShape(layout: .nhwc) == [32, 32, 3] && fashion.elementCount == 3 * 32 * 32)
        #expect(fashion.cropChannels == 1)
    }

    @Test func jsonRoundTripAndDefaults() throws {
        for spec in [PreprocessSpec.imagenet(), .imagenet(height: 192, width: 160), .fashionMNIST] {
            let data = try spec.jsonData()
            #expect(try PreprocessSpec.decode(json: data) == spec)
        }
        let json = #"{"resize": 256, "crop": [224, 224], "mean": [0.485, 0.456, 0.406], "std": [0.229, 0.224, 0.225]}"#
        #expect(try PreprocessSpec.decode(json: Data(json.utf8)) == .imagenet())
        let square = #"{"resize": 28, "crop": 28, "mean": [0.286], "std": [0.353], "grayscale": true}"#
        let gray = try PreprocessSpec.decode(json: Data(square.utf8))
        #expect(gray.cropHeight == 28 && gray.cropWidth == 28 && gray.channels == 1 && gray.pad == 0)
        let text = String(decoding: try PreprocessSpec.fashionMNIST.jsonData(), as: UTF8.self)
        #expect(text == #"{"channels":3,"crop":[28,28],"grayscale":true,"mean":[0.286],"pad":2,"resize":28,"std":[0.353]}"#)
    }

    @Test(arguments: [
        (#"{"crop": [224, 224], "mean": [0.5], "std": [0.5]}"#, "missing key \"resize\""),
        (#"{"resize": 256, "crop": [224], "mean": [0.5], "std": [0.5]}"#, "crop"),
        (#"{"resize": 256, "crop": [224, 224], "mean": [0.5, 0.5], "std": [0.5]}"#, "mean needs 1 or 3 values"),
        (#"{"resize": 256, "crop": [224, 224], "mean": [0.5], "std": [0]}"#, "std [0.0] contains 0"),
        (#"{"resize": -1, "crop": [224, 224], "mean": [0.5], "std": [0.5]}"#, "resize -1 is negative"),
        (#"{"resize": 256, "crop": [0, 224], "mean": [0.5], "std": [0.5]}"#, "crop 0x224 is empty"),
        (#"{"resize": 256, "crop": [224, 224], "mean": [0.5], "std": [0.5], "channels": 2}"#, "channels must be 1 or 3"),
        (#"{"resize": 256, "crop": [224, 224], "mean": [0.5], "std": [0.5], "channels": 1}"#, "needs grayscale"),
        (#"{"resize": 256, "crop": [224, 224], "mean": "x", "std": [0.5]}"#, "mean"),
        (#"{"resize": 256, "#, "not valid JSON"),
    ])
    func invalidSpecs(json: String, fragment: String) {
        do {
            let spec = try PreprocessSpec.decode(json: Data(json.utf8), source: "model.preprocess.json")
            Issue.record("accepted \(json) as \(spec)")
        } catch let error as ImageError {
            #expect(error.kind == .invalidSpec)
            #expect(error.description.hasPrefix("model.preprocess.json: invalid preprocess spec: "), "\(error)")
            #expect(error.description.contains(fragment), "\(error)")
            #expect(!error.description.contains("\n"))
        } catch {
            Issue.record("unexpected error \(error)")
        }
    }

    @Test func sidecarFile() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("edgeimaging-spec-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let model = dir.appendingPathComponent("resnet18-fashion-mnist.onnx")
        #expect(PreprocessSpec.sidecarURL(forModel: model).lastPathComponent == "resnet18-fashion-mnist.preprocess.json")
        #expect(try PreprocessSpec.sidecar(forModel: model) == nil)
        try PreprocessSpec.fashionMNIST.jsonData().write(to: PreprocessSpec.sidecarURL(forModel: model))
        #expect(try PreprocessSpec.sidecar(forModel: model) == .fashionMNIST)
        try Data("{}".utf8).write(to: PreprocessSpec.sidecarURL(forModel: model))
        #expect(throws: ImageError.self) { try PreprocessSpec.sidecar(forModel: model) }
    }

    /// torchvision: shorter side -> resize, longer -> int(resize * long / short); unchanged when resize == 0.
    @Test func resizedSizes() {
        let spec = PreprocessSpec.imagenet()
        #expect(spec.resizedSize(width: 640, height: 427) == (383, 256))   // int(383.69)
        #expect(spec.resizedSize(width: 427, height: 640) == (256, 383))
        #expect(spec.resizedSize(width: 500, height: 500) == (256, 256))
        #expect(spec.resizedSize(width: 1352, height: 900) == (384, 256))  // int(384.568...)
        #expect(spec.resizedSize(width: 768, height: 576) == (341, 256))   // int(341.33)
        #expect(spec.resizedSize(width: 300, height: 100) == (768, 256))   // upscaling
        #expect(spec.resizedSize(width: 7, height: 3) == (597, 256))       // int(597.33)
        var none = spec
        none.resize = 0
        #expect(none.resizedSize(width: 123, height: 45) == (123, 45))
    }

    /// Centre-crop offsets use Python's round (half to even) and the zero padding of torchvision's center_crop.
    @Test func cropOffsetsAndPadding() throws {
        // A 7x5 image whose pixel (x, y) = 10 * y + x + 1, so every byte says where it came from (0 = padding).
        let w = 7, h = 5
        let image = DecodedImage(width: w, height: h, channels: 1,
                                 pixels: (0..<(w * h)).map { (i: Int) -> UInt8 in UInt8(10 * (i / w) + i % w + 1) })  // typed: Swift 6.2 times out otherwise
        func crop(_ ch: Int, _ cw: Int) throws -> [[UInt8]] {
            let spec = PreprocessSpec(resize: 0, cropHeight: ch, cropWidth: cw, mean: [0], std: [1], grayscale: true)
            let out = try spec.crop(image)
            return (0..<ch).map { y in Array(out.pixels[(y * cw)..<((y + 1) * cw)]) }
        }
        // (7 - 4) / 2 = 1.5 -> 2 (even); (5 - 2) / 2 = 1.5 -> 2.
        #expect(try crop(2, 4) == [[23, 24, 25, 26], [33, 34, 35, 36]])
        // (7 - 2) / 2 = 2.5 -> 2; (5 - 4) / 2 = 0.5 -> 0.
        #expect(try crop(4, 2) == [[3, 4], [13, 14], [23, 24], [33, 34]])
        // Wider than the image: pad left (10 - 7) // 2 = 1, right 2; height 3 of 5 -> top round(1.0) = 1.
        #expect(try crop(3, 10) == [[0, 11, 12, 13, 14, 15, 16, 17, 0, 0],
                                    [0, 21, 22, 23, 24, 25, 26, 27, 0, 0],
                                    [0, 31, 32, 33, 34, 35, 36, 37, 0, 0]])
        // Larger in both: pad top (8 - 5) // 2 = 1, bottom 2; left 0 right 1.
        let big = try crop(8, 8)
        #expect(big[0] == [0, 0, 0, 0, 0, 0, 0, 0])
        #expect(big[1] == [1, 2, 3, 4, 5, 6, 7, 0])
        #expect(big[5] == [41, 42, 43, 44, 45, 46, 47, 0])
        #expect(big[6] == [0, 0, 0, 0, 0, 0, 0, 0] && big[7] == big[6])
    }

    /// The float conversion is `(Float(v) / 255 - mean) / std` in Float32, and padding holds the value of 0.
    @Test func normalisationAndPadding() throws {
        let spec = PreprocessSpec(resize: 0, cropHeight: 1, cropWidth: 2, mean: [0.485, 0.456, 0.406],
                                  std: [0.229, 0.224, 0.225], pad: 1)
        let image = DecodedImage(width: 2, height: 1, channels: 3, pixels: [0, 128, 255, 7, 200, 13])
        let t = try spec.tensor(image, layout: .nchw)
        #expect(t.count == 3 * 3 * 4)
        let mean: [Float] = [0.485, 0.456, 0.406], std: [Float] = [0.229, 0.224, 0.225]
        for c in 0..<3 {
            let plane = Array(t[(c * 12)..<((c + 1) * 12)])
            let padValue = (Float(0) / 255 - mean[c]) / std[c]
            #expect(plane[0] == padValue && plane[11] == padValue && plane[4] == padValue && plane[7] == padValue)
            #expect(plane[5] == (Float(image.pixels[c]) / 255 - mean[c]) / std[c])
            #expect(plane[6] == (Float(image.pixels[3 + c]) / 255 - mean[c]) / std[c])
        }
        let nhwc = try spec.tensor(image, layout: .nhwc)
        #expect(nhwc[(1 * 4 + 1) * 3 + 2] == t[2 * 12 + 1 * 4 + 1])
        // A gray image under an RGB spec is replicated (Pillow convert('RGB')).
        let gray = DecodedImage(width: 2, height: 1, channels: 1, pixels: [9, 250])
        #expect(try spec.crop(gray).pixels == [9, 9, 9, 250, 250, 250])
        // An RGB image under a gray spec uses Pillow's L = (19595 R + 38470 G + 7471 B + 0x8000) >> 16.
        let grayscale = PreprocessSpec(resize: 0, cropHeight: 1, cropWidth: 2, mean: [0.5], std: [0.5], grayscale: true)
        func luma(_ r: Int, _ g: Int, _ b: Int) -> UInt8 { UInt8((r * 19595 + g * 38470 + b * 7471 + 0x8000) >> 16) }
        let expectedL: [UInt8] = [luma(0, 128, 255), luma(7, 200, 13)]
        #expect(try grayscale.crop(image).pixels == expectedL)
    }

    @Test func invalidSpecIsAnErrorNotATrap() {
        let spec = PreprocessSpec(resize: 10, cropHeight: 0, cropWidth: 5, mean: [0], std: [1])
        let image = DecodedImage(width: 4, height: 4, channels: 3, pixels: [UInt8](repeating: 1, count: 48))
        #expect(throws: ImageError.self) { try spec.crop(image) }
        #expect(throws: ImageError.self) { try spec.tensor(image) }
    }
}
