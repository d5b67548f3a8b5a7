public import Foundation

/// A fresh SQLite file in a temporary folder, removed when the test ends.
public final class TemporaryDatabase: Sendable {
    public let folder: URL
    public var path: String { folder.appendingPathComponent("qualityrate.sqlite").path }

    public init() throws {
        folder = FileManager.default.temporaryDirectory.appendingPathComponent("qr-storage-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
    }

    deinit { try? FileManager.default.removeItem(at: folder) }
}
