import ArgumentParser
import CallFlow
import CallRunner
import Domain
import Foundation
import GRDB
import Hummingbird
import Logging
import Notifications
import ServiceLifecycle
import Storage
import Synchronization

/// `scripts/bench-notifications` (issue 10): rated calls through `CallRunner` and SQLite at a
/// steady rate, their notifications sent by the server's `NotificationDeliveryService` to a
/// receiver on loopback; the time from the caller's key press to the receiver's answer, then how
/// many notifications a second a backlog drains at.
struct NotificationsBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "notifications",
        abstract: "Key press to notification delivery at a steady rate of rated calls, then the delivery rate of a backlog.")

    @Option(help: "The SQLite file to create (it must not exist).") var database: String
    @Option(help: "Rated calls per second.") var rate = 200
    @Option(help: "Seconds of calls at that rate.") var seconds = 30
    @Option(help: "Ratings stored at once for the backlog measurement.") var backlog = 20_000

    func run() async throws {
        guard !FileManager.default.fileExists(atPath: database) else {
            throw ValidationError("\(database) exists: the benchmark needs a new file")
        }
        let store = try SQLiteStore(path: database)
        let centre = try await ContactCentre.build(in: store, agents: 50)
        var logger = Logger(label: "notifications-bench")
        logger.logLevel = .warning
        let receiver = Receiver()
        let ready = Mutex<Int?>(nil)
        let application = Application(
            router: receiver.router(), configuration: .init(address: .hostname("127.0.0.1", port: 0)),
            onServerRunning: { channel in ready.withLock { $0 = channel.localAddress?.port } }, logger: logger)
        let services = ServiceGroup(
            services: [application, NotificationDeliveryService(store: store, logger: logger)], logger: logger)

        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await services.run() }
            var port: Int?
            while port == nil {
                try await Task.sleep(for: .milliseconds(10))
                port = ready.withLock { $0 }
            }
            var client = centre.client
            client.ratingNotificationURL = "http://127.0.0.1:\(port!)/hook"
            try await store.updateClient(client, replacingNotificationSecret: "whsec_bench")

            let calls = rate * seconds
            print("== \(calls) rated calls at \(rate)/s, half to a queue (rates the agent), half to a menu (rates the call)")
            let pressed = try await placeCalls(calls, centre: centre, store: store, logger: logger)
            try await receiver.waitFor(calls, seconds: 120)
            let latencies = try receiver.latencies(since: pressed)
            print(String(
                format: "  key press to the receiver's answer: p50 %.0f ms, p99 %.0f ms, max %.0f ms; %d delivered, %d duplicates",
                percentile(latencies, 0.5) * 1000, percentile(latencies, 0.99) * 1000, (latencies.max() ?? 0) * 1000,
                latencies.count, receiver.duplicates))

            print("== a backlog of \(backlog) ratings stored at once")
            let ratings = (0..<backlog).map { index in
                NewRating(
                    clientID: client.id, callUUID: .random(), ratedAt: .now(), extensionID: centre.menuID, rate: Int64(1 + index % 9),
                    maxRate: 9, agentUsername: nil)
            }
            let began = ContinuousClock.now
            for batch in stride(from: 0, to: backlog, by: 1_000) {
                try await store.insertRatings(Array(ratings[batch..<min(batch + 1_000, backlog)]))
            }
            try await receiver.waitFor(calls + backlog, seconds: 600)
            let drained = (ContinuousClock.now - began).seconds
            print(String(format: "  delivered in %.1f s: %.0f notifications/s; %d duplicates", drained, Double(backlog) / drained,
                         receiver.duplicates))
            guard receiver.duplicates == 0 else { throw ValidationError("a notification arrived twice") }
            await services.triggerGracefulShutdown()
            try await group.waitForAll()
        }
        // Every delivery the receiver answered is recorded as delivered, the last ones through the stop.
        let notDelivered = try await DatabaseQueue(path: database).read { db in
            try Int.fetchOne(db, sql: "SELECT count(*) FROM rating_notification WHERE state != 'delivered'") ?? 0
        }
        print("  after the stop: \(notDelivered) notifications not recorded as delivered")
        guard notDelivered == 0 else { throw ValidationError("\(notDelivered) answered notifications are not recorded as delivered") }
    }

    /// Places `count` calls at `rate` a second, each from its arrival through its key press to
    /// its end; returns when each call's key was pressed, by call.
    func placeCalls(_ count: Int, centre: ContactCentre, store: SQLiteStore, logger: Logger) async throws -> [String: ContinuousClock.Instant] {
        let directory = CachingCallDirectory(caching: StoreCallDirectory(store: store))
        let services = CallServices(
            store: store, directory: directory, queues: QueueRegistry(directory: directory, reachability: EveryAgentReachable(), state: store.queueState),
            interactive: NoInteractiveServer(), timers: ManualTimerScheduler(), logger: logger)
        let pressed = KeyPresses()
        let start = ContinuousClock.now
        try await withThrowingTaskGroup(of: Void.self) { group in
            for index in 0..<count {
                try await Task.sleep(until: start + .seconds(Double(index) / Double(rate)))
                group.addTask {
                    let uuid = CallUUID.random()
                    let port = RingRecorder()
                    let runner = CallRunner(arrival: centre.arrival(index, uuid: uuid), port: port, services: services)
                    await runner.start()
                    let agent = index % 2 == 0 ? port.lastRung : nil
                    for event in ContactCentre.farSide(agent: agent) {
                        if case .key = event { pressed.times.withLock { $0[uuid.value] = .now } }
                        await runner.deliver(event)
                    }
                }
            }
            try await group.waitForAll()
        }
        return pressed.times.withLock { $0 }
    }

    func percentile(_ values: [Double], _ fraction: Double) -> Double {
        let sorted = values.sorted()
        return sorted.isEmpty ? 0 : sorted[min(sorted.count - 1, Int(Double(sorted.count) * fraction))]
    }
}

/// When each call's caller pressed the rating key, by call.
final class KeyPresses: Sendable {
    let times = Mutex<[String: ContinuousClock.Instant]>([:])
}

/// The client's notification URL: answers 204 and notes when each rating's first delivery came.
final class Receiver: Sendable {
    private struct State {
        var arrivals: [String: ContinuousClock.Instant] = [:]
        var duplicates = 0
    }

    private let state = Mutex(State())

    func router() -> Router<BasicRequestContext> {
        let router = Router()
        router.post("hook") { request, _ -> Response in
            let body = try await request.body.collect(upTo: 1 << 20)
            let object = try JSONSerialization.jsonObject(with: Data(body.readableBytesView)) as? [String: Any]
            self.arrived(callUUID: object?["call_uuid"] as? String ?? "")
            return Response(status: .noContent)
        }
        return router
    }

    private func arrived(callUUID: String) {
        let now = ContinuousClock.now
        state.withLock { state in
            if state.arrivals[callUUID] != nil {
                state.duplicates += 1
            } else {
                state.arrivals[callUUID] = now
            }
        }
    }

    var duplicates: Int { state.withLock { $0.duplicates } }

    /// Returns once `count` ratings have arrived; fails after `seconds`. Arrival times are noted
    /// as requests come in, so how often this looks does not change them.
    func waitFor(_ count: Int, seconds: Int) async throws {
        let deadline = ContinuousClock.now + .seconds(seconds)
        while state.withLock({ $0.arrivals.count }) < count {
            guard ContinuousClock.now < deadline else {
                throw ValidationError("only \(state.withLock { $0.arrivals.count }) of \(count) notifications arrived within \(seconds) s")
            }
            try await Task.sleep(for: .milliseconds(5))
        }
    }

    /// Seconds from each key press to its rating's arrival.
    func latencies(since pressed: [String: ContinuousClock.Instant]) throws -> [Double] {
        try state.withLock { state in
            try pressed.map { uuid, instant in
                guard let arrival = state.arrivals[uuid] else { throw ValidationError("the rating of call \(uuid) never arrived") }
                return (arrival - instant).seconds
            }
        }
    }
}
