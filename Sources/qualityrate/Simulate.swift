import ArgumentParser
import CallRunner
import Foundation
import Logging
import PostgresStorage
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
        let report = try await playOnACopy(scenario)
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

extension Simulate {
    /// Plays `scenario` on a copy of the database, so the real ratings and call history are
    /// untouched: a copy of the SQLite file (SQLite's online backup), or on PostgreSQL a
    /// transaction that is rolled back (`PostgresStore.withScratchCopy`), which the servers
    /// using the database never see.
    private func playOnACopy(_ scenario: Scenario) async throws -> ScenarioPlayer.Report {
        let logger = Logger(label: "qualityrate")
        if PostgresLocation.isURL(database.database) {
            return try await PostgresStore.withScratchCopy(try PostgresLocation(url: database.database), logger: logger) { store in
                try await ScenarioPlayer(store: store).play(scenario)
            }
        }
        guard FileManager.default.fileExists(atPath: database.database) else {
            throw ValidationError("--database: \(database.database) does not exist")
        }
        let original = try SQLiteStore(path: database.database, logger: logger)
        let scratch = FileManager.default.temporaryDirectory.appendingPathComponent("qualityrate-simulate-\(UUID().uuidString).sqlite").path
        defer {
            for suffix in ["", "-wal", "-shm"] { try? FileManager.default.removeItem(atPath: scratch + suffix) }
        }
        try original.copy(to: scratch)
        return try await ScenarioPlayer(store: SQLiteStore(path: scratch, logger: logger)).play(scenario)
    }
}
