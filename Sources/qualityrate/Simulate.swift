import ArgumentParser
import CallRunner
import Foundation
import Logging
import Storage

struct Simulate: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Replay a described call (docs/SCENARIOS.md) against the database's configuration and print what happened.",
        discussion: """
            The call runs on a copy of the database, so the real ratings and call history are untouched. \
            Exits 1 when an expectation of the scenario does not hold.
            """)

    @Argument(help: "The scenario, a JSON file.")
    var file: String

    @OptionGroup var database: DatabaseOption

    func run() async throws {
        let scenario: Scenario
        do {
            scenario = try Scenario.load(Data(contentsOf: URL(fileURLWithPath: file)))
        } catch let error as DecodingError {
            throw ValidationError("\(file): not a scenario: \(Self.describe(error))")
        }
        guard FileManager.default.fileExists(atPath: database.database) else {
            throw ValidationError("--database: \(database.database) does not exist")
        }
        let original = try SQLiteStore(path: database.database, logger: Logger(label: "qualityrate"))
        let scratch = FileManager.default.temporaryDirectory.appendingPathComponent("qualityrate-simulate-\(UUID().uuidString).sqlite").path
        defer {
            for suffix in ["", "-wal", "-shm"] { try? FileManager.default.removeItem(atPath: scratch + suffix) }
        }
        try original.copy(to: scratch)
        let report = try await ScenarioPlayer(store: SQLiteStore(path: scratch, logger: Logger(label: "qualityrate"))).play(scenario)

        print("scenario: \(scenario.name)")
        report.transcript.forEach { print($0) }
        if report.failures.isEmpty {
            print("PASS")
        } else {
            report.failures.forEach { print("FAIL: \($0)") }
            throw ExitCode(1)
        }
    }

    static func describe(_ error: DecodingError) -> String {
        switch error {
        case .dataCorrupted(let context), .keyNotFound(_, let context), .typeMismatch(_, let context), .valueNotFound(_, let context):
            let path = context.codingPath.map { $0.intValue.map { "[\($0)]" } ?? ".\($0.stringValue)" }.joined()
            return "\(path.isEmpty ? "" : "at \(path): ")\(context.debugDescription)"
        @unknown default:
            return "\(error)"
        }
    }
}
