import Testing
@testable import EdgeCapture

@Test func missingDeviceIsDeviceMissing() throws {
    let camera = V4L2Camera(CameraConfiguration(device: "/dev/video-does-not-exist", width: 640, height: 480, fps: 30))
    #expect(throws: CaptureError.self) { try camera.open() }
}
