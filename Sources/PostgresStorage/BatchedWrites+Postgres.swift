public import Storage

extension BatchedWrites {
    /// `write(_:committingWith:)`, each batch committed by `commitAll` in one transaction (see
    /// `togetherThenAlone`).
    func write(_ input: Input, committingTogether commitAll: @escaping @Sendable ([Input]) async throws -> [Output]) async throws -> Output {
        try await write(input, committingWith: Self.togetherThenAlone(commitAll))
    }

    /// A batch committed by `commitAll` in one transaction; when that fails and the batch holds
    /// more than one write, each is tried again alone, so that one write's failure (its client
    /// just deleted) fails only that write. PostgreSQL's savepoints would cost two round trips
    /// per write, held under the rating lock; a failing batch is rare.
    private static func togetherThenAlone(_ commitAll: @escaping @Sendable ([Input]) async throws -> [Output]) -> Commit {
        { inputs in
            do {
                return try await commitAll(inputs).map { .success($0) }
            } catch {
                guard inputs.count > 1 else { return [.failure(error)] }
                var outcomes: [Result<Output, any Error>] = []
                for input in inputs {
                    do { outcomes.append(.success(try await commitAll([input])[0])) } catch { outcomes.append(.failure(error)) }
                }
                return outcomes
            }
        }
    }
}
