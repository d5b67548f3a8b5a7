public import Logging
public import Storage

/// What a `--database` argument names — a SQLite file, or a PostgreSQL URL — opened the same way
/// by the `qualityrate` commands and by the benchmarks.
public enum DatabaseArgument {
    /// Runs `body` with the store `database` names, migrated: a SQLite file (created when
    /// missing), or for a `postgres://` URL a PostgreSQL store whose connection pool, of at most
    /// `maximumConnections`, runs for exactly as long as `body`.
    public static func withStore<T: Sendable>(
        _ database: String, maximumConnections: Int, logger: Logger, _ body: (any Store) async throws -> T
    ) async throws -> T {
        guard PostgresLocation.isURL(database) else {
            return try await body(SQLiteStore(path: database, logger: logger))
        }
        return try await PostgresStore.withStore(
            try PostgresLocation(url: database), maximumConnections: maximumConnections, logger: logger, body)
    }
}
