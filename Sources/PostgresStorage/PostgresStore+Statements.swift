import PostgresNIO

/// A statement composed piece by piece (optional filters), each value bound as `$n`.
struct ComposedQuery {
    var sql: String
    private var bindings = PostgresBindings()

    init(_ sql: String) { self.sql = sql }

    /// Appends `fragment`, then `value`'s placeholder.
    mutating func append(_ fragment: String, binding value: some PostgresDynamicTypeEncodable) {
        bindings.append(value)
        sql += fragment + "$\(bindings.count)"
    }

    var query: PostgresQuery { PostgresQuery(unsafeSQL: sql, binds: bindings) }
}

extension PostgresRowSequence {
    /// The one value of a statement that answers exactly one row of one column (`RETURNING id`,
    /// `SELECT EXISTS …`).
    func decodeOne<Value: PostgresDecodable & Sendable>(_: Value.Type) async throws -> Value {
        for try await value in decode(Value.self) { return value }
        throw PostgresRowsMissing()
    }

    /// How many rows the statement answered (`… RETURNING 1`: how many it changed).
    func count() async throws -> Int {
        var count = 0
        for try await _ in self { count += 1 }
        return count
    }
}

/// A statement that always answers a row answered none: never expected, a bug if seen.
struct PostgresRowsMissing: Error {}
