#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import EdgeSupport
import EdgeImaging
#if canImport(Glibc)
import Glibc
#endif

/// A JPEG/PNG file, or a folder of them, decoded once at `open()` and looped as frames: rgb24, or gray for gray
/// images (gray JPEG, gray PNG), each at its own size. In a folder, files are taken in name order; hidden files and
/// files that are not JPEG/PNG or do not decode are skipped (`skipped` lists them with the reason). Paced at `fps`
/// (<= 0: as fast as read); the timestamp is the capture (read) time.
public final class ImageFileSource: FrameSource {
    public let path: String
    public let fps: Double
    public var name: String { path }
    /// Files of a folder that were not used, with the reason (after `open()`).
    public private(set) var skipped: [String] = []
    /// Decoded pixels kept in memory at most (a folder stops being read beyond it).
    public static let memoryLimit = 1 << 30

    private var images: [DecodedImage] = []
    private var index = 0
    private var sequence: UInt64 = 0
    private var pacer: FramePacer

    public init(path: String, fps: Double) {
        self.path = path
        self.fps = fps
        pacer = FramePacer(fps: fps)
    }

    public func open() throws {
        close()
        var st = stat()
        if stat(path, &st) != 0 {
            let e = errno
            if e == EACCES { throw CaptureError.permissionDenied("\(path): \(String(cString: strerror(e)))") }
            throw CaptureError.deviceMissing("\(path): \(String(cString: strerror(e)))")
        }
        if (st.st_mode & S_IFMT) == S_IFDIR {
            let names: [String]
            do { names = try FileManager.default.contentsOfDirectory(atPath: path).sorted() } catch {
                throw CaptureError.permissionDenied("\(path): cannot list the folder (\(errorReason(error)))")
            }
            var bytes = 0
            var found: [DecodedImage] = []
            for name in names where !name.hasPrefix(".") {
                let file = path.appendingPathComponent(name)
                var fst = stat()
                guard stat(file, &fst) == 0, (fst.st_mode & S_IFMT) == S_IFREG else { continue }
                do {
                    let image = try ImageDecoder.decode(path: file)
                    if bytes + image.pixels.count > Self.memoryLimit {
                        skipped.append("\(name): over the \(Self.memoryLimit >> 20) MB limit of decoded images")
                        continue
                    }
                    bytes += image.pixels.count
                    found.append(image)
                } catch {
                    skipped.append("\(error)")
                }
            }
            guard !found.isEmpty else {
                throw CaptureError.unsupported("\(path): no decodable JPEG or PNG image in the folder")
            }
            images = found
        } else {
            do { images = [try ImageDecoder.decode(path: path)] } catch let error as ImageError {
                if error.kind == .unreadable { throw CaptureError.permissionDenied(error.description) }
                throw CaptureError.unsupported(error.description)
            }
        }
        index = 0
        pacer.reset()
    }

    public func close() { images = [] }

    public func read(timeout: Double) throws -> Frame? {
        guard !images.isEmpty else { throw CaptureError.io("\(path): not open") }
        guard pacer.wait(timeout: timeout) else { return nil }
        let image = images[index]
        index = (index + 1) % images.count
        sequence += 1
        return try Frame(format: image.channels == 1 ? .gray : .rgb24, width: image.width, height: image.height,
                         sequence: sequence, timestamp: monotonicSeconds(), bytes: image.pixels)
    }
}

/// A file of raw frames back to back (no header, rows packed: `format.minimumBytesPerLine(width:)` apart; NV12 with
/// its chroma plane after each frame's luma plane), looped. A trailing partial frame is ignored; a file shorter than
/// one frame is refused at `open()` (`.io`); a file that shrinks while open restarts from its beginning.
/// MJPEG is not a raw format (`.unsupported`). Paced at `fps` (<= 0: as fast as read).
public final class RawVideoSource: FrameSource {
    public let path: String
    public let format: PixelFormat
    public let width: Int
    public let height: Int
    public let fps: Double
    public var name: String { path }
    /// Whole frames in the file (after `open()`).
    public private(set) var frameCount = 0

    private var fd: Int32 = -1
    private var frameSize = 0
    private var index = 0
    private var sequence: UInt64 = 0
    private var pacer: FramePacer

    public init(path: String, format: PixelFormat, width: Int, height: Int, fps: Double) {
        self.path = path
        self.format = format
        self.width = width
        self.height = height
        self.fps = fps
        pacer = FramePacer(fps: fps)
    }

    deinit { close() }

    public func open() throws {
        close()
        guard format != .mjpeg else {
            throw CaptureError.unsupported("\(path): MJPEG is not a raw format (use a folder of JPEG files)")
        }
        guard width > 0, height > 0, width <= Frame.maximumDimension, height <= Frame.maximumDimension else {
            throw CaptureError.unsupported("\(path): bad frame size \(width)x\(height)")
        }
        let size = format.frameSize(width: width, height: height, bytesPerLine: format.minimumBytesPerLine(width: width))!
        let f = Glibc.open(path, O_RDONLY | O_CLOEXEC)
        if f < 0 {
            let e = errno
            let why = "\(path): \(String(cString: strerror(e)))"
            if e == EACCES || e == EPERM { throw CaptureError.permissionDenied(why) }
            if e == ENOENT || e == ENOTDIR { throw CaptureError.deviceMissing(why) }
            throw CaptureError.io(why)
        }
        var st = stat()
        guard fstat(f, &st) == 0, (st.st_mode & S_IFMT) == S_IFREG else {
            Glibc.close(f)
            throw CaptureError.unsupported("\(path): not a regular file")
        }
        let count = Int(st.st_size) / size
        guard count > 0 else {
            Glibc.close(f)
            throw CaptureError.io("\(path): truncated: \(st.st_size) bytes, less than one \(width)x\(height) \(format.rawValue) frame (\(size) bytes)")
        }
        fd = f
        frameSize = size
        frameCount = count
        index = 0
        pacer.reset()
    }

    public func close() {
        if fd >= 0 { Glibc.close(fd); fd = -1 }
    }

    public func read(timeout: Double) throws -> Frame? {
        guard fd >= 0 else { throw CaptureError.io("\(path): not open") }
        guard pacer.wait(timeout: timeout) else { return nil }
        let storage = UnsafeMutableRawBufferPointer.allocate(byteCount: frameSize, alignment: 64)
        var attempt = 0
        while true {
            if index >= frameCount { index = 0 }
            let got = readFully(into: storage, at: off_t(index) * off_t(frameSize))
            if got == frameSize { break }
            if got < 0 {
                let why = String(cString: strerror(errno))
                storage.deallocate()
                throw CaptureError.io("\(path): read failed: \(why)")
            }
            // Short read: the file shrank. Start over from the first frame once; then give up.
            attempt += 1
            if attempt > 1 || index == 0 {
                storage.deallocate()
                throw CaptureError.io("\(path): truncated while reading (frame \(index) has \(got) of \(frameSize) bytes)")
            }
            index = 0
        }
        index += 1
        sequence += 1
        return Frame(format: format, width: width, height: height, bytesPerLine: format.minimumBytesPerLine(width: width),
                     sequence: sequence, timestamp: monotonicSeconds(), adopting: storage)
    }

    /// pread until `buffer` is full or the end of the file; the bytes read, or -1 on error.
    private func readFully(into buffer: UnsafeMutableRawBufferPointer, at offset: off_t) -> Int {
        var done = 0
        while done < buffer.count {
            let n = pread(fd, buffer.baseAddress! + done, buffer.count - done, offset + off_t(done))
            if n < 0 { if errno == EINTR { continue }; return -1 }
            if n == 0 { break }
            done += n
        }
        return done
    }
}
