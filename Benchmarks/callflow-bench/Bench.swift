import ArgumentParser
import CallFlow
import CallRunner
import Domain
import Foundation
import GRDB
import Logging
import Storage
import Synchronization

@main
struct Bench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "callflow-bench",
        abstract: "Call-flow benchmarks: rated calls (the default), and the notifications of rated calls.",
        subcommands: [RatedCalls.self, NotificationsBench.self], defaultSubcommand: RatedCalls.self)
}

struct RatedCalls: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "calls",
        abstract: "Rated calls through the engine alone, then through CallRunner with SQLite.")

    @Option(help: "The SQLite file to create (it must not exist).") var database: String
    @Option(help: "Calls per measurement.") var calls = 100_000
    @Option(help: "Calls in flight at once with storage.") var concurrency = 200

    func run() async throws {
        guard !FileManager.default.fileExists(atPath: database) else {
            throw ValidationError("\(database) exists: the benchmark counts every row it writes, so it needs a new file")
        }
        let store = try SQLiteStore(path: database)
        let centre = try await ContactCentre.build(in: store, agents: max(concurrency + 20, 50))
        print("\(calls) calls per measurement, half to queue 200 (rates the agent), half to voice menu 099 (rates the call)")

        print("== engine alone (CallFlow.Call values, no I/O)")
        let engine = try EngineAlone(centre: centre).run(calls: calls)
        print(String(format: "  %d calls in %.2f s: %.0f calls/s; peak RSS %d MB", calls, engine.seconds, Double(calls) / engine.seconds, Memory.peakKiB() / 1024))

        print("== engine with storage (CallRunner, SQLite: \(try await store.durability()), \(concurrency) calls in flight)")
        Memory.resetPeak()
        let stored = try await WithStorage(centre: centre, store: store, concurrency: concurrency).run(calls: calls)
        print(String(format: "  %d calls in %.2f s: %.0f calls/s; peak RSS %d MB", calls, stored, Double(calls) / stored, Memory.peakKiB() / 1024))

        let (ratings, records, legs) = try await StoredData.countRows(database)
        print("  stored: \(ratings) ratings, \(records) call-history records with \(legs) legs")
        guard ratings == calls, records == calls else {
            throw ValidationError("expected \(calls) ratings and \(calls) call-history records in \(database), found \(ratings) and \(records)")
        }
    }
}

/// The part of the scenario tests' contact centre the benchmark's calls use: queue 200 (top-down,
/// rates the agent when the agent hangs up first) with enough agents that no caller of the
/// benchmark ever waits, and menu 099 (rates 1–9 without a finish sound, as when
/// docs/BENCHMARKS.md's figures were measured, then hangs up), each reached by a DID.
struct ContactCentre: Sendable {
    var client: Client
    var queueDID: String
    var menuDID: String
    var queue: Call.Destination
    var menu: Call.Destination
    var menuID: Int64
    var agents: [String]

    static func build(in store: SQLiteStore, agents count: Int) async throws -> ContactCentre {
        let client = try await store.createClient(name: "Acme", timezone: "Europe/Berlin", domain: "acme.local")
        func add(_ name: String, _ kind: Extension.Kind) async throws -> Extension {
            try await store.createExtension(NewExtension(clientID: client.id, name: name, kind: kind, label: name), status: .active, credentials: nil)
        }
        let queue = try await add("200", .queue)
        var agents: [String] = []
        for index in 0..<count {
            let phone = try await add("\(1000 + index)", .phone)
            _ = try await store.addQueueAgent(clientID: client.id, queueID: queue.id, agentID: phone.id)
            agents.append(phone.name)
        }
        var options = QueueOptions()
        options.agentHangupAction = .qualityRate
        options.strategy = .topDown
        try await store.updateQueueOptions(clientID: client.id, queueID: queue.id, options)

        let menu = try await add("099", .ivr)
        let context = try await store.createIVRContext(clientID: client.id, ivrID: menu.id, .init(name: "main"))
        for rule in [IVRRuleDefinition(action: .qualityRate(sound: 0, maxRate: 9, finishSound: nil)), IVRRuleDefinition(action: .hangup)] {
            _ = try await store.createIVRRule(clientID: client.id, ivrID: menu.id, contextID: context.id, option: "start", position: nil, rule)
        }
        for target in [queue, menu] {
            _ = try await store.createDID(NewDID(clientID: client.id, number: "4930555" + target.name, extensionID: target.id, comment: ""))
        }

        // The engine-alone run routes with what the directory answers here, once.
        let directory = StoreCallDirectory(store: store)
        return ContactCentre(
            client: client, queueDID: "4930555200", menuDID: "4930555099",
            queue: try await directory.destination(clientID: client.id, number: "200"),
            menu: try await directory.destination(clientID: client.id, number: "099"), menuID: menu.id,
            agents: agents)
    }

    /// Even calls go to the queue, odd ones to the menu.
    func arrival(_ index: Int, uuid: CallUUID) -> Call.Arrival {
        Call.Arrival(
            callUUID: uuid, clientID: client.id, dialled: index % 2 == 0 ? queueDID : menuDID, did: (index % 2 == 0 ? queueDID : menuDID, "acme.local"),
            caller: .init(username: "+4930\(7_000_000 + index)", screenName: nil, domain: nil))
    }

    /// What the far side does after routing: in the queue the agent answers and hangs up first;
    /// then (queue or menu) the caller presses 4 during the prompt (valid for 1–5 and 1–9) and hears any finish sound out.
    static func farSide(agent: String?) -> [Call.Event] {
        (agent.map { [.agentAnswered($0), .agentHungUp($0)] } ?? []) + [.key("4"), .playbackFinished]
    }
}

/// Calls as plain values, one after the other: what the engine costs per call, without actors,
/// storage or a clock. Routing, ring plans and storage are answered at once, as a runner would.
struct EngineAlone {
    var centre: ContactCentre

    func run(calls: Int) throws -> (seconds: Double, rated: Int) {
        var generator = SystemRandomNumberGenerator()
        let start = UnixTime(seconds: 1_780_000_000)
        let began = ContinuousClock.now
        var rated = 0
        for index in 0..<calls {
            let agent = index % 2 == 0 ? centre.agents[index / 2 % centre.agents.count] : nil
            var call = Call(arrival: centre.arrival(index, uuid: .random(using: &generator)), at: start)
            var events: [Call.Event] = [.arrived]
            var farSide = ContactCentre.farSide(agent: agent)[...]
            var ratings = 0
            var histories = 0
            var second: Int64 = 0
            while let event = events.isEmpty ? farSide.popFirst() : events.removeFirst() {
                second += 1
                for action in call.handle(event, at: start.adding(seconds: second)) {
                    switch action {
                    case .resolve: events.append(.routed(index % 2 == 0 ? centre.queue : centre.menu))
                    case .requestRingPlan: events.append(.ringPlan(agent.map { [[$0]] } ?? []))
                    case .storeRating:
                        ratings += 1
                        events.append(.ratingStored)
                    case .writeCallHistory: histories += 1
                    default: break
                    }
                }
            }
            if ratings == 1, histories == 1, call.isOver { rated += 1 }
        }
        let seconds = (ContinuousClock.now - began).seconds
        guard rated == calls else {
            throw ValidationError("only \(rated) of \(calls) calls stored exactly one rating and one call-history record")
        }
        return (seconds, rated)
    }
}

/// The same calls through `CallRunner` with storage, routing from SQLite and the queue registry,
/// `concurrency` of them in flight at once; the timers never fire (a manual clock that stays put).
struct WithStorage {
    var centre: ContactCentre
    var store: SQLiteStore
    var concurrency: Int

    func run(calls: Int) async throws -> Double {
        // Routed as `qualityrate serve` routes: through the routing cache.
        let directory = CachingCallDirectory(caching: StoreCallDirectory(store: store))
        var logger = Logger(label: "callflow-bench")
        logger.logLevel = .warning
        let services = CallServices(
            store: store, directory: directory, queues: QueueRegistry(directory: directory, reachability: EveryAgentReachable(), state: store.queueState),
            interactive: NoInteractiveServer(), timers: ManualTimerScheduler(), logger: logger)
        let centre = centre
        let began = ContinuousClock.now
        let completed = try await withThrowingTaskGroup(of: Bool.self) { group in
            func call(_ index: Int) {
                group.addTask {
                    let port = RingRecorder()
                    let runner = CallRunner(arrival: centre.arrival(index, uuid: .random()), port: port, services: services)
                    await runner.start()
                    let agent = index % 2 == 0 ? port.lastRung : nil
                    if index % 2 == 0, agent == nil { return false }
                    for event in ContactCentre.farSide(agent: agent) { await runner.deliver(event) }
                    return await runner.isOver
                }
            }
            for index in 0..<min(concurrency, calls) { call(index) }
            var next = min(concurrency, calls)
            var completed = 0
            while let over = try await group.next() {
                if over { completed += 1 }
                if next < calls {
                    call(next)
                    next += 1
                }
            }
            return completed
        }
        let seconds = (ContinuousClock.now - began).seconds
        guard completed == calls else { throw ValidationError("only \(completed) of \(calls) calls ended") }
        return seconds
    }
}

/// The telephony side of one benchmark call: it only remembers whom the queue rang, so the
/// driver can make that agent answer.
final class RingRecorder: TelephonyPort {
    private let rung = Mutex<String?>(nil)

    var lastRung: String? { rung.withLock { $0 } }

    func ring(_ agents: [String]) async { rung.withLock { $0 = agents.last } }
    func answerCaller() async {}
    func play(_ sound: SoundReference) async {}
    func stopPlayback() async {}
    func cancelRinging(_ agents: [String]) async {}
    func bridge(agent: String) async {}
    func promoteToCaller(_ name: String) async {}
    func hangUpAgent(_ agent: String) async {}
    func hangUpCaller() async {}
    func refuseUnknownNumber() async {}
    func announce(_ sound: SoundReference, alsoTo party: String) async {}
    func sendKeys(_ keys: String, to party: String) async {}
}

/// The benchmark's menus make no `call_interactive` request; a runner still needs a client.
struct NoInteractiveServer: InteractiveClient {
    func request(url: String, method: IVRAction.HTTPMethod, parameters: [String: String]) async -> [VoiceMenuCall.InteractiveCommand]? { nil }
}

enum Memory {
    /// This process's peak resident memory (VmHWM), in KiB.
    static func peakKiB() -> Int {
        let status = (try? String(contentsOfFile: "/proc/self/status", encoding: .utf8)) ?? ""
        return status.split(separator: "\n").first { $0.hasPrefix("VmHWM:") }
            .flatMap { Int($0.split(separator: " ", omittingEmptySubsequences: true)[1]) } ?? 0
    }

    /// Starts the peak over from the current resident size, so each measurement shows its own.
    static func resetPeak() {
        try? "5".write(toFile: "/proc/self/clear_refs", atomically: false, encoding: .utf8)
    }
}

enum StoredData {
    static func countRows(_ path: String) async throws -> (ratings: Int, calls: Int, legs: Int) {
        let queue = try DatabaseQueue(path: path)
        return try await queue.read { db in
            (try Int.fetchOne(db, sql: "SELECT count(*) FROM rating") ?? 0,
             try Int.fetchOne(db, sql: "SELECT count(*) FROM call") ?? 0,
             try Int.fetchOne(db, sql: "SELECT count(*) FROM call_leg") ?? 0)
        }
    }
}

extension Duration {
    var seconds: Double { Double(components.seconds) + Double(components.attoseconds) / 1e18 }
}
