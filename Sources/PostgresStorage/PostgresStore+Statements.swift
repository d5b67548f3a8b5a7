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

/// A row's cells in the order they were selected, each decoded as the concrete type asked for.
/// For the lists, which run to a million rows: decoding a row as a tuple
/// (`PostgresRowSequence.decode((A, B, …).self)`) looks up the tuple's type metadata for every
/// row, a third of a list's time (docs/BENCHMARKS.md), while `PostgresCell.decode` is inlinable
/// and specialised here.
struct SelectedCells {
    private var cells: PostgresRow.Iterator

    init(_ row: PostgresRow) { cells = row.makeIterator() }

    /// The next cell's value.
    mutating func next<Value: PostgresDecodable>(_: Value.Type = Value.self) throws -> Value {
        guard let cell = cells.next() else { throw PostgresRowsMissing() }
        return try cell.decode(Value.self)
    }
}

/// A statement that always answers a row answered none, or a row fewer cells than selected: never expected, a bug if seen.
struct PostgresRowsMissing: Error {}
