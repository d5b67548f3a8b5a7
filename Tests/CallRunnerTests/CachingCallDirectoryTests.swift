import CallFlow
import CallRunner
import Domain
import Synchronization
import Testing

/// A directory that counts how often it is asked, and whose answer can be changed.
final class CountingDirectory: CallDirectory {
    private let state = Mutex((lookups: 0, answer: Call.Destination.unreachable))

    var lookups: Int { state.withLock { $0.lookups } }

    func setAnswer(_ answer: Call.Destination) { state.withLock { $0.answer = answer } }

    func destination(clientID: Int64, number: String) async throws -> Call.Destination {
        state.withLock { state in
            state.lookups += 1
            return state.answer
        }
    }

    func queueAgents(clientID: Int64, queueID: Int64) async throws -> (strategy: QueueStrategy, agents: [String]) {
        state.withLock { $0.lookups += 1 }
        return (.topDown, ["101"])
    }
}

@Suite struct CachingCallDirectoryTests {
    @Test func answersFromTheCacheUntilTheLifetimeEnds() async throws {
        let base = CountingDirectory()
        let cache = CachingCallDirectory(caching: base, lifetime: .milliseconds(200))
        let phone = Extension(id: 5, clientID: 1, name: "101", kind: .phone, label: "", status: "active", createdAt: UnixTime(seconds: 0))
        base.setAnswer(.phone(phone))
        #expect(try await cache.destination(clientID: 1, number: "101") == .phone(phone))
        base.setAnswer(.unreachable)
        #expect(try await cache.destination(clientID: 1, number: "101") == .phone(phone))
        #expect(try await cache.destination(clientID: 2, number: "101") == .unreachable, "another client is another entry")
        _ = try await cache.queueAgents(clientID: 1, queueID: 9)
        _ = try await cache.queueAgents(clientID: 1, queueID: 9)
        #expect(base.lookups == 3)
        try await Task.sleep(for: .milliseconds(250))
        #expect(try await cache.destination(clientID: 1, number: "101") == .unreachable, "a change is seen once the entry expired")
        #expect(base.lookups == 4)
    }
}
