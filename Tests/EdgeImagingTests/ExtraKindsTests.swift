import EdgeImaging
import Foundation
import Testing
import TestSupport

/// PNG/JPEG kinds the photo set lacks, and crops larger than the resized image, against Pillow (+ numpy for
/// torchvision's padding branch). Fixtures: `Tests/Fixtures/make_imaging_fixtures.py` -> `.fixtures/imaging/`.
@Suite struct ExtraKindsTests {
    struct Manifest: Decodable {
        struct Decode: Decodable {
            let file: String
            let error: String?
            let pillow_mode: String?
            let width: Int?
            let height: Int?
            let rgb: String?
            let gray: String?
        }
        struct Padded: Decodable {
            let image: String
            /// In `.fixtures/imaging/images/` rather than ../shared/testdata/images.
            let local: Bool
            let spec: PreprocessSpec
            let uint8: String
            let uint8_shape: [Int]
            let float: String
            let float_shape: [Int]
        }
        struct Resize: Decodable {
            let image: String
            let mode: String
            let width: Int
            let height: Int
            let uint8: String
        }
        let version: Int
        let decode: [Decode]
        let padded: [Padded]
        let resize: [Resize]
    }

    static var directory: URL { TestPaths.fixtures.appendingPathComponent("imaging") }

    static func load() throws -> Manifest {
        let url = directory.appendingPathComponent("manifest.json")
        guard let data = try? Data(contentsOf: url) else {
            throw FixtureError("imaging fixtures missing at \(url.path): run "
                               + "`python Tests/Fixtures/make_imaging_fixtures.py` (with Pillow and numpy) first")
        }
        return try JSONDecoder().decode(Manifest.self, from: data)
    }

    @Test func decodedBytesEqualPillow() throws {
        let manifest = try Self.load()
        #expect(manifest.decode.count >= 30)
        var matched = 0, rejected = 0
        for entry in manifest.decode {
            let url = Self.directory.appendingPathComponent(entry.file)
            if let expectedError = entry.error {
                do {
                    let image = try ImageDecoder.decode(contentsOf: url)
                    Issue.record("\(entry.file): decoded (\(image.width)x\(image.height)) but should fail with \(expectedError)")
                } catch let error as ImageError {
                    #expect(error.kind.rawValue == expectedError, "\(error)")
                    #expect(error.description.hasPrefix(url.lastPathComponent + ": "), "\(error)")
                    print("  \(error)")
                    rejected += 1
                }
                continue
            }
            let image: DecodedImage
            do { image = try ImageDecoder.decode(contentsOf: url) } catch {
                Issue.record("\(entry.file) (Pillow mode \(entry.pillow_mode ?? "?")): \(error)")
                continue
            }
            #expect(image.width == entry.width && image.height == entry.height, "\(entry.file): size")
            let rgb = try readUInt8File(Self.directory.appendingPathComponent(try #require(entry.rgb)))
            let gray = try readUInt8File(Self.directory.appendingPathComponent(try #require(entry.gray)))
            let ourRGB = image.rgb().pixels, ourGray = image.grayscale().pixels
            let rgbDiff = zip(ourRGB, rgb).filter { $0 != $1 }.count + abs(ourRGB.count - rgb.count)
            let grayDiff = zip(ourGray, gray).filter { $0 != $1 }.count + abs(ourGray.count - gray.count)
            #expect(rgbDiff == 0, "\(entry.file) (Pillow \(entry.pillow_mode ?? "?")): convert('RGB') differs in \(rgbDiff) bytes")
            #expect(grayDiff == 0, "\(entry.file) (Pillow \(entry.pillow_mode ?? "?")): convert('L') differs in \(grayDiff) bytes")
            if rgbDiff == 0 && grayDiff == 0 { matched += 1 }
        }
        print("extra kinds: \(matched) decoded exactly as Pillow, \(rejected) rejected as expected, of \(manifest.decode.count)")
    }

    /// torchvision's center_crop pads with zeros when the resized image is smaller than the crop; and tall images
    /// whose resize runs Pillow's vertical pass first.
    @Test func paddedCropsAndTallImagesMatchTheOracle() throws {
        let manifest = try Self.load()
        #expect(manifest.padded.count >= 5)
        for entry in manifest.padded {
            let dir = entry.local ? Self.directory.appendingPathComponent("images") : TestPaths.testImages
            let image = try ImageDecoder.decode(contentsOf: dir.appendingPathComponent(entry.image))
            let crop = try entry.spec.crop(image)
            #expect([crop.height, crop.width, crop.channels] == entry.uint8_shape, "\(entry.image)")
            let expectedU8 = try readUInt8File(Self.directory.appendingPathComponent(entry.uint8))
            #expect(crop.pixels == expectedU8, "\(entry.image) \(entry.spec): uint8 crop differs in \(zip(crop.pixels, expectedU8).filter { $0 != $1 }.count) bytes")
            let tensor = try entry.spec.tensor(image, layout: .nchw)
            let expectedF = try readFloat32File(Self.directory.appendingPathComponent(entry.float))
            #expect(entry.float_shape == [1] + entry.spec.inputShape(layout: .nchw))
            #expect(tensor.map(\.bitPattern) == expectedF.map(\.bitPattern), "\(entry.image) \(entry.spec): float tensor differs")
        }
    }

    /// `PillowResample.resize` against Pillow's `resize(size, BILINEAR)` beyond what the presets reach.
    @Test func resizeEqualsPillowBilinear() throws {
        let manifest = try Self.load()
        #expect(manifest.resize.count >= 8)
        for entry in manifest.resize {
            let decoded = try ImageDecoder.decode(contentsOf: TestPaths.testImages.appendingPathComponent(entry.image))
            let source = entry.mode == "L" ? decoded.grayscale() : decoded.rgb()
            let resized = PillowResample.resize(source, width: entry.width, height: entry.height)
            let expected = try readUInt8File(Self.directory.appendingPathComponent(entry.uint8))
            let diff = zip(resized.pixels, expected).filter { $0 != $1 }.count + abs(resized.pixels.count - expected.count)
            #expect(diff == 0, "\(entry.image) \(entry.mode) -> \(entry.width)x\(entry.height): \(diff) bytes differ")
        }
    }
}
