import ArgumentParser
import Logging
import PostgresStorage
import Storage

@main
struct QualityRate: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "qualityrate",
        abstract: "Conversation ratings for contact centres: the telephony server and its REST API.",
        subcommands: [Serve.self, Setup.self, Demo.self, Simulate.self])
}

/// `--database PATH|postgres://…`, shared by every subcommand that touches the database.
struct DatabaseOption: ParsableArguments {
    @Option(
        name: .long,
        help: "SQLite file (created when missing), or a postgres://user:password@host:port/database[?sslmode=disable|prefer|require] URL.")
    var database = "./qualityrate.sqlite"

    func validate() throws {
        if PostgresLocation.isURL(database) {
            do { _ = try PostgresLocation(url: database) } catch { throw ValidationError("\(error)") }
        }
    }

    /// What logs may show of the location: a URL without its password.
    var shown: String {
        (try? PostgresLocation(url: database)).map(\.description) ?? database
    }

    /// Runs `body` with the database opened and migrated. A PostgreSQL store's connection pool
    /// runs for exactly as long as `body`: around `serve`'s service group, so every service that
    /// writes (the calls draining on SIGTERM among them) still reaches the database.
    func withStore<T: Sendable>(
        logger: Logger, maximumConnections: Int = 4, _ body: (any Store) async throws -> T
    ) async throws -> T {
        try await DatabaseArgument.withStore(database, maximumConnections: maximumConnections, logger: logger, body)
    }
}
