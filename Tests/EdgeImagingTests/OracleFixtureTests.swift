import EdgeImaging
import Foundation
import Testing
import TestSupport

/// Our decode + preprocess against the Pillow oracle (`Tests/Fixtures/make_fixtures.py` -> `.fixtures/manifest.json`):
/// for every photo in ../shared/testdata/images and every preset, the uint8 crop must equal the fixture's bytes and
/// the float32 NCHW input must equal the fixture's floats bit for bit.
@Suite struct OracleFixtureTests {
    /// The presets make_fixtures.py writes; listed here so that a missing manifest fails every one of them.
    static let presetNames = ["imagenet-224", "imagenet-192x160", "fashion-mnist"]

    static func photos() throws -> [URL] {
        let dir = TestPaths.testImages
        let names = try FileManager.default.contentsOfDirectory(atPath: dir.path)
            .filter { ["jpg", "jpeg", "png"].contains(($0 as NSString).pathExtension.lowercased()) }
            .sorted()
        guard !names.isEmpty else { throw FixtureError("no photos in \(dir.path)") }
        return names.map { dir.appendingPathComponent($0) }
    }

    static func spec(_ p: FixtureManifest.Preset) -> PreprocessSpec {
        PreprocessSpec(resize: p.resize, cropHeight: p.crop[0], cropWidth: p.crop[1], mean: p.mean, std: p.std,
                       grayscale: p.grayscale, pad: p.pad, channels: p.channels)
    }

    @Test func manifestCoversEveryPhotoAndPreset() throws {
        let manifest = try FixtureManifest.load()
        #expect(Set(manifest.presets.keys) == Set(Self.presetNames))
        let photos = try Self.photos().map(\.lastPathComponent)
        #expect(manifest.images.sorted() == photos)
        for name in Self.presetNames {
            #expect(Set(manifest.preprocessed[name]?.keys.map { $0 } ?? []) == Set(photos), "preset \(name)")
        }
    }

    @Test func namedPresetsMatchTheManifest() throws {
        let manifest = try FixtureManifest.load()
        let imagenet = try #require(manifest.presets["imagenet-224"])
        #expect(Self.spec(imagenet) == PreprocessSpec.imagenet())
        let fashion = try #require(manifest.presets["fashion-mnist"])
        #expect(Self.spec(fashion) == PreprocessSpec.fashionMNIST)
        // The manifest's imagenet-192x160 uses resize 220 (so that the crop never needs padding), whereas
        // .imagenet(height: 192, width: 160) follows torchvision's 256/224 rule: round(160 * 256 / 224) = 183.
        let small = try #require(manifest.presets["imagenet-192x160"])
        #expect(Self.spec(small).cropHeight == 192 && Self.spec(small).cropWidth == 160)
        #expect(PreprocessSpec.imagenet(height: 192, width: 160).resize == 183)
    }

    /// The manifest's presets are the JSON form of `PreprocessSpec`: decoding the raw manifest entry gives the same spec.
    @Test func manifestPresetJSONDecodesAsPreprocessSpec() throws {
        let data = try Data(contentsOf: TestPaths.fixtures.appendingPathComponent("manifest.json"))
        let object = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        let presets = try #require(object["presets"] as? [String: Any])
        let manifest = try FixtureManifest.load()
        for name in Self.presetNames {
            let json = try JSONSerialization.data(withJSONObject: try #require(presets[name]))
            let spec = try PreprocessSpec.decode(json: json, source: name)
            #expect(spec == Self.spec(try #require(manifest.presets[name])), "preset \(name)")
        }
    }

    @Test(arguments: presetNames)
    func cropAndTensorAreBitExact(presetName: String) throws {
        let manifest = try FixtureManifest.load()
        let preset = try #require(manifest.presets[presetName], "preset \(presetName) missing from the manifest")
        let entries = try #require(manifest.preprocessed[presetName])
        let spec = Self.spec(preset)
        var exactCrops = 0, exactTensors = 0
        let photos = try Self.photos()
        for url in photos {
            let name = url.lastPathComponent
            guard let entry = entries[name] else {
                Issue.record("\(presetName): no fixture for \(name)")
                continue
            }
            let image = try ImageDecoder.decode(contentsOf: url)
            let crop = try spec.crop(image)

            // uint8 crop, HWC.
            let expectedU8 = try readUInt8File(manifest.url(entry.uint8))
            #expect(entry.uint8_shape == [crop.height, crop.width, crop.channels], "\(presetName)/\(name): u8 shape")
            if crop.pixels == expectedU8 {
                exactCrops += 1
            } else {
                let diffs = zip(crop.pixels, expectedU8).filter { $0 != $1 }
                let maxDiff = zip(crop.pixels, expectedU8).map { abs(Int($0) - Int($1)) }.max() ?? -1
                let message = "\(presetName)/\(name): uint8 crop differs in \(diffs.count) of \(expectedU8.count) bytes "
                    + "(sizes \(crop.pixels.count)/\(expectedU8.count), max |diff| \(maxDiff))"
                Issue.record("\(message)")
            }

            // float32 NCHW, N = 1.
            let expectedF = try readFloat32File(manifest.url(entry.float))
            #expect(entry.float_shape == [1] + spec.inputShape(layout: .nchw), "\(presetName)/\(name): float shape")
            let tensor = try spec.tensor(image, layout: .nchw)
            if tensor.count == expectedF.count && zip(tensor, expectedF).allSatisfy({ $0.bitPattern == $1.bitPattern }) {
                exactTensors += 1
            } else {
                let maxDiff = zip(tensor, expectedF).map { abs($0 - $1) }.max() ?? .infinity
                let count = zip(tensor, expectedF).filter { $0.bitPattern != $1.bitPattern }.count
                let message = "\(presetName)/\(name): float tensor not bit-exact: \(count) of \(expectedF.count) values "
                    + "differ (sizes \(tensor.count)/\(expectedF.count)), max |diff| \(maxDiff)"
                Issue.record("\(message)")
            }

            // NHWC is the same numbers transposed.
            let nhwc = try spec.tensor(image, layout: .nhwc)
            let (C, H, W) = (spec.channels, spec.inputHeight, spec.inputWidth)
            var transposedOK = nhwc.count == tensor.count
            if transposedOK {
                outer: for c in 0..<C { for y in 0..<H { for x in 0..<W
                    where nhwc[(y * W + x) * C + c].bitPattern != tensor[(c * H + y) * W + x].bitPattern {
                        transposedOK = false
                        break outer
                } } }
            }
            #expect(transposedOK, "\(presetName)/\(name): NHWC is not the transpose of NCHW")
        }
        #expect(exactCrops == photos.count && exactTensors == photos.count)
        print("\(presetName): \(exactCrops)/\(photos.count) uint8 crops and \(exactTensors)/\(photos.count) float tensors bit-exact")
    }

    /// Writing into a caller's batch buffer: image i lands in slot i and nothing outside its slot is touched.
    @Test func writesIntoABatchSlot() throws {
        let spec = PreprocessSpec.fashionMNIST
        let photos = try Self.photos().prefix(2)
        let n = spec.elementCount
        var batch = [Float](repeating: .nan, count: n * 3)
        try batch.withUnsafeMutableBufferPointer { buf in
            for (i, url) in photos.enumerated() {
                try spec.preprocess(path: url.path, into: buf.baseAddress! + i * n, layout: .nchw)
            }
        }
        for (i, url) in photos.enumerated() {
            let single = try spec.tensor(ImageDecoder.decode(contentsOf: url))
            #expect(Array(batch[(i * n)..<((i + 1) * n)]).map(\.bitPattern) == single.map(\.bitPattern))
        }
        #expect(batch[(2 * n)...].allSatisfy { $0.isNaN })
    }
}
