import CallFlow
import CallRunner
import Domain
import Foundation
import Hummingbird
import HummingbirdTesting
import Logging
import Storage
import Testing
import TestSupport

/// The contact centre the scenario files run against, built in a real SQLite file:
/// phones 101–103; queue 200 (top-down, rates the agent), 201 (transfers to menu 099 when the
/// agent hangs up), 210 ring-all, 211 top-down, 212 longest-idle (agents 103, 101, 102),
/// 213 round-robin, 214 random;
/// menu 099 (rates 1–9, says "thank you", then hangs up, like the demo's Feedback menu); menu 098
/// (its DID goes to queue 200, an internal call rates); menu 097 (Berlin callers to sales, others
/// rate 1–3); 098 and 097 have no finish sound; DIDs 4930555 + 200/201/099/098/097.
struct ContactCentre {
    let database: TestStore
    var store: any Store { database.store }
    let client: Client

    init() async throws {
        database = try await TestStore()
        let store = database.store
        client = try await store.createClient(name: "Acme", timezone: "Europe/Berlin", domain: "acme.local")
        var phones: [String: Int64] = [:]
        for name in ["101", "102", "103"] {
            phones[name] = try await add(name, .phone).id
        }
        try await queue("200", agents: ["101", "102", "103"]) { $0.agentHangupAction = .qualityRate; $0.strategy = .topDown }
        try await queue("201", agents: ["102"]) {
            $0.agentHangupAction = .transfer
            $0.agentHangupTransferDestination = "099"
            $0.strategy = .topDown
        }
        try await queue("210", agents: ["101", "102", "103"]) { $0.strategy = .ringAll }
        try await queue("211", agents: ["101", "102", "103"]) { $0.strategy = .topDown }
        try await queue("212", agents: ["103", "101", "102"]) { $0.strategy = .longestIdleAgent }
        try await queue("213", agents: ["101", "102", "103"]) { $0.strategy = .roundRobin }
        try await queue("214", agents: ["101", "102", "103"]) { $0.strategy = .random }
        try await menu("099", [("start", IVRRuleDefinition(action: .qualityRate(sound: 0, maxRate: 9, finishSound: 0))),
                               ("start", IVRRuleDefinition(action: .hangup))])
        try await menu("098", [("start", IVRRuleDefinition(action: .transfer(destination: "200"), didFilter: "4930555098")),
                               ("start", IVRRuleDefinition(action: .qualityRate(sound: 0, maxRate: 9, finishSound: nil))),
                               ("start", IVRRuleDefinition(action: .hangup))])
        try await menu("097", [("start", IVRRuleDefinition(action: .transfer(destination: "201"), callerIDFilter: .matches("^\\+4930"))),
                               ("start", IVRRuleDefinition(action: .qualityRate(sound: 0, maxRate: 3, finishSound: nil))),
                               ("start", IVRRuleDefinition(action: .hangup))])
        for name in ["200", "201", "099", "098", "097"] {
            let target = try #require(try await store.extension(clientID: client.id, name: name))
            _ = try await store.createDID(NewDID(clientID: client.id, number: "4930555" + name, extensionID: target.id, comment: ""))
        }

        func add(_ name: String, _ kind: Extension.Kind) async throws -> Extension {
            try await store.createExtension(NewExtension(clientID: client.id, name: name, kind: kind, label: name), status: .active, credentials: nil)
        }
        func queue(_ name: String, agents: [String], _ configure: (inout QueueOptions) -> Void) async throws {
            let queue = try await add(name, .queue)
            for agent in agents { _ = try await store.addQueueAgent(clientID: client.id, queueID: queue.id, agentID: phones[agent]!) }
            var options = QueueOptions()
            configure(&options)
            try await store.updateQueueOptions(clientID: client.id, queueID: queue.id, options)
        }
        func menu(_ name: String, _ rules: [(String, IVRRuleDefinition)]) async throws {
            let menu = try await add(name, .ivr)
            let context = try await store.createIVRContext(clientID: client.id, ivrID: menu.id, .init(name: "main"))
            for (option, rule) in rules {
                _ = try await store.createIVRRule(clientID: client.id, ivrID: menu.id, contextID: context.id, option: option, position: nil, rule)
            }
        }
    }

    /// A menu whose first rule asks `url` what to do, then rates the call.
    func interactiveMenu(_ name: String, url: String) async throws {
        let menu = try await store.createExtension(
            NewExtension(clientID: client.id, name: name, kind: .ivr, label: name), status: .active, credentials: nil)
        let main = try await store.createIVRContext(clientID: client.id, ivrID: menu.id, .init(name: "main"))
        let vip = try await store.createIVRContext(clientID: client.id, ivrID: menu.id, .init(name: "vip"))
        for rule in [IVRAction.callInteractive(url: url, method: .POST), .qualityRate(sound: 0, maxRate: 5, finishSound: nil)] {
            _ = try await store.createIVRRule(clientID: client.id, ivrID: menu.id, contextID: main.id, option: "start", position: nil, IVRRuleDefinition(action: rule))
        }
        _ = try await store.createIVRRule(
            clientID: client.id, ivrID: menu.id, contextID: vip.id, option: "start", position: nil,
            IVRRuleDefinition(action: .transfer(destination: "200")))
    }
}

@Suite struct ScenarioTests {
    static let folder = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Scenarios")
    static let files = (try? FileManager.default.contentsOfDirectory(atPath: folder.path))?.filter { $0.hasSuffix(".json") }.sorted() ?? []

    @Test func theScenarioFilesAreThere() {
        #expect(Self.files.count >= 16)
    }

    @Test(arguments: files)
    func scenario(_ file: String) async throws {
        let centre = try await ContactCentre()
        let scenario = try Scenario.load(Data(contentsOf: Self.folder.appendingPathComponent(file)))
        let report = try await ScenarioPlayer(store: centre.store).play(scenario)
        #expect(report.failures.isEmpty, "\(file):\n\(report.failures.joined(separator: "\n"))\n\(report.transcript.joined(separator: "\n"))")
    }

    @Test func aScenarioThatDoesNotHoldFailsWithTheReason() async throws {
        let centre = try await ContactCentre()
        let scenario = try Scenario.load(Data("""
            {"name": "wrong", "steps": [{"call": {"from": "+4930111222", "to": "4930555099"}}, {"press": "2"}],
             "expect_ratings": [{"rate": 3, "agent": null}]}
            """.utf8))
        let report = try await ScenarioPlayer(store: centre.store).play(scenario)
        #expect(report.failures == ["rating: expected rate 3, stored 2"])
    }

    @Test func callInteractiveSteersTheCallOrFailsOver() async throws {
        let router = Router()
        router.post("steer") { request, _ -> Response in
            let form = String(buffer: try await request.body.collect(upTo: 1 << 16))
            let vip = form.contains("CallerIDNum=%2B4930111222")
            return xml(vip ? #"<Response><Jump context="vip"/></Response>"# : "<Response/>")
        }
        router.post("fail") { _, _ -> Response in Response(status: .serviceUnavailable) }
        let app = Application(router: router, configuration: .init(address: .hostname("127.0.0.1", port: 0)), logger: Logger(label: "steer"))
        try await app.test(.live) { client in
            let centre = try await ContactCentre()
            try await centre.interactiveMenu("090", url: "http://127.0.0.1:\(client.port!)/steer")
            try await centre.interactiveMenu("091", url: "http://127.0.0.1:\(client.port!)/fail")
            let player = ScenarioPlayer(store: centre.store)
            let steered = try await player.play(Scenario.load(Data("""
                {"name": "vip", "client_id": 1, "steps": [{"call": {"from": "+4930111222", "to": "090"}},
                 {"expect": ["answer the caller", "ring 101"]}, {"caller_hangs_up": true}]}
                """.utf8)))
            #expect(steered.failures.isEmpty, "\(steered.failures) \(steered.transcript)")
            let ordinary = try await player.play(Scenario.load(Data("""
                {"name": "not vip", "client_id": 1, "steps": [{"call": {"from": "+4989777888", "to": "090"}},
                 {"expect": ["answer the caller", "play built-in rating_prompt"]}, {"press": "5"}],
                 "expect_ratings": [{"rate": 5, "extension": "090", "target": "call"}]}
                """.utf8)))
            #expect(ordinary.failures.isEmpty, "\(ordinary.failures) \(ordinary.transcript)")
            let failing = try await player.play(Scenario.load(Data("""
                {"name": "server fails", "client_id": 1, "steps": [{"call": {"from": "+4930111222", "to": "091"}},
                 {"expect": ["answer the caller", "play built-in rating_prompt"]}, {"press": "2"}],
                 "expect_ratings": [{"rate": 2, "extension": "091", "target": "call"}]}
                """.utf8)))
            #expect(failing.failures.isEmpty, "\(failing.failures) \(failing.transcript)")
        }
    }
}
