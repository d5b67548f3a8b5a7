public import CallFlow
public import Domain
public import Foundation
public import Storage

/// A call described step by step, and what must follow: the format of `qualityrate simulate`
/// (see docs/SCENARIOS.md). The configuration it runs against is the database's.
public struct Scenario: Decodable, Sendable {
    public var name: String
    /// The client of an internal call (a call to an extension name); a call to a DID finds its
    /// client by the DID.
    public var clientID: Int64?
    public var steps: [Step]
    public var expectRatings: [ExpectedRating]?
    public var expectCall: ExpectedCall?
    public var expectOffers: ExpectedOffers?

    enum CodingKeys: String, CodingKey {
        case name, steps
        case clientID = "client_id"
        case expectRatings = "expect_ratings"
        case expectCall = "expect_call"
        case expectOffers = "expect_offers"
    }

    public enum Step: Decodable, Sendable, Equatable {
        /// The call arrives: `to` a DID (from a trunk) or an extension name (from a phone).
        case call(to: String, from: String)
        /// A call started by the API (SPEC §2.3): ring `src`, then call `dst`.
        case callback(Call.CallbackPlan)
        case agentAnswers(String)
        case agentBusy(String)
        case agentHangsUp(String)
        case callerHangsUp
        /// Keys, one after the other: `"4"`, `"12#"`.
        case press(String)
        /// The sound being played ends.
        case promptEnds
        /// Time passes (seconds): timers that fall due fire.
        case wait(Int64)
        /// The telephony requests since the previous `expect`, in order, as they are printed.
        case expect([String])

        enum Key: String, CodingKey {
            case call, callback, press, wait, expect
            case agentAnswers = "agent_answers"
            case agentBusy = "agent_busy"
            case agentHangsUp = "agent_hangs_up"
            case callerHangsUp = "caller_hangs_up"
            case promptEnds = "prompt_ends"
        }

        struct CallTarget: Decodable {
            var to: String
            var from: String
        }

        struct CallbackRequest: Decodable {
            var src: [String]
            var dst: String
            var transferAfterSrcHangup: String?
            var transferAfterDstHangup: String?

            enum CodingKeys: String, CodingKey {
                case src, dst
                case transferAfterSrcHangup = "transfer_after_src_hangup"
                case transferAfterDstHangup = "transfer_after_dst_hangup"
            }
        }

        public init(from decoder: any Decoder) throws {
            let container = try decoder.container(keyedBy: Key.self)
            guard container.allKeys.count == 1, let key = container.allKeys.first else {
                throw DecodingError.dataCorrupted(.init(
                    codingPath: decoder.codingPath,
                    debugDescription: "a step is an object with exactly one of: \(Key.allNames)"))
            }
            switch key {
            case .call:
                let target = try container.decode(CallTarget.self, forKey: key)
                self = .call(to: target.to, from: target.from)
            case .callback:
                let request = try container.decode(CallbackRequest.self, forKey: key)
                self = .callback(Call.CallbackPlan(
                    sources: request.src, destination: request.dst, afterSourceHangup: request.transferAfterSrcHangup,
                    afterDestinationHangup: request.transferAfterDstHangup))
            case .agentAnswers: self = .agentAnswers(try container.decode(String.self, forKey: key))
            case .agentBusy: self = .agentBusy(try container.decode(String.self, forKey: key))
            case .agentHangsUp: self = .agentHangsUp(try container.decode(String.self, forKey: key))
            case .callerHangsUp: self = .callerHangsUp
            case .press: self = .press(try container.decode(String.self, forKey: key))
            case .promptEnds: self = .promptEnds
            case .wait: self = .wait(try container.decode(Int64.self, forKey: key))
            case .expect: self = .expect(try container.decode([String].self, forKey: key))
            }
        }
    }

    public struct ExpectedRating: Decodable, Sendable, Equatable {
        public var rate: Int64
        public var maxRate: Int64?
        /// The name of the queue or voice menu whose rule collected it.
        public var `extension`: String?
        /// The agent it is of; JSON null or absent with `target: call` for a rating of the call.
        public var agent: String?
        public var target: String?

        enum CodingKeys: String, CodingKey {
            case rate, agent, target, `extension`
            case maxRate = "max_rate"
        }
    }

    /// How many rating prompts the call was offered, and how many were answered with a valid key
    /// (issue 10: what the statistics' response rate counts).
    public struct ExpectedOffers: Decodable, Sendable, Equatable {
        public var offered: Int64
        public var rated: Int64
    }

    public struct ExpectedCall: Decodable, Sendable, Equatable {
        public var hangupDisposition: String?
        public var bridgedUsername: String?

        enum CodingKeys: String, CodingKey {
            case hangupDisposition = "hangup_disposition"
            case bridgedUsername = "bridged_username"
        }
    }

    public static func load(_ data: Data) throws -> Scenario {
        try JSONDecoder().decode(Scenario.self, from: data)
    }
}

extension Scenario.Step.Key {
    static let allNames = ["call", "callback", "agent_answers", "agent_busy", "agent_hangs_up", "caller_hangs_up", "press", "prompt_ends", "wait", "expect"]
        .joined(separator: ", ")
}

/// Plays a scenario against a store: a real `CallRunner` with the simulated telephony port and a
/// manual clock; returns the transcript and every expectation that did not hold.
public struct ScenarioPlayer: Sendable {
    public struct Report: Sendable {
        public var transcript: [String]
        public var failures: [String]
        public var ratings: [Rating]
        public var call: CallRecord?
    }

    public static let start = UnixTime(seconds: 1_780_000_000)

    private let store: any Store

    public init(store: any Store) { self.store = store }

    public func play(_ scenario: Scenario) async throws -> Report {
        var transcript: [String] = []
        var failures: [String] = []
        let timers = ManualTimerScheduler()
        let port = SimulatedTelephony()
        let directory = StoreCallDirectory(store: store)
        let now: @Sendable () -> UnixTime = { Self.start.adding(seconds: timers.elapsed.components.seconds) }
        let services = CallServices(
            store: store, directory: directory, queues: QueueRegistry(directory: directory, reachability: EveryAgentReachable(), state: store.queueState),
            interactive: HTTPInteractiveClient(), timers: timers, now: now, logger: .init(label: "qualityrate.simulate"))
        var runner: CallRunner?
        var uuid: CallUUID?
        var clientID: Int64?
        var unexpected: [SimulatedTelephony.Request] = []

        func stamp(_ line: String) -> String { "\(timers.elapsed.components.seconds)s".padding(toLength: 7, withPad: " ", startingAt: 0) + line }

        for (index, step) in scenario.steps.enumerated() {
            if case .call(let to, let from) = step {
                guard runner == nil else { failures.append("step \(index + 1): a scenario describes one call"); break }
                let (client, did) = try await locate(number: to, scenario: scenario)
                guard let client else {
                    failures.append("step \(index + 1): no client: \(to) is no DID, and the scenario names no client_id")
                    break
                }
                clientID = client.id
                let callUUID = CallUUID.random()
                uuid = callUUID
                transcript.append(stamp("call \(callUUID) from \(from) to \(to) (client \(client.id), \(client.name))"))
                runner = CallRunner(
                    arrival: .init(
                        callUUID: callUUID, clientID: client.id, dialled: to, did: did ? (to, client.domain) : nil,
                        caller: .init(username: from, screenName: nil, domain: did ? nil : client.domain)),
                    port: port, services: services)
                await runner?.start()
            } else if case .callback(let plan) = step {
                guard runner == nil else { failures.append("step \(index + 1): a scenario describes one call"); break }
                guard let id = scenario.clientID, let client = try await store.client(id: id) else {
                    failures.append("step \(index + 1): a callback needs the scenario's client_id")
                    break
                }
                clientID = client.id
                let callUUID = CallUUID.random()
                uuid = callUUID
                transcript.append(stamp("callback \(callUUID): ring \(plan.sources.joined(separator: ", ")), then call \(plan.destination) (client \(client.id), \(client.name))"))
                runner = CallRunner(
                    arrival: .init(
                        callUUID: callUUID, clientID: client.id, dialled: plan.destination, did: nil,
                        caller: .init(username: plan.sources.first, screenName: nil, domain: client.domain), callback: plan),
                    port: port, services: services)
                await runner?.start()
            } else if let runner {
                transcript.append(stamp(Self.describe(step)))
                switch step {
                case .call, .callback: break
                case .agentAnswers(let agent): await runner.deliver(.agentAnswered(agent))
                case .agentBusy(let agent): await runner.deliver(.agentUnreachable(agent))
                case .agentHangsUp(let agent): await runner.deliver(.agentHungUp(agent))
                case .callerHangsUp: await runner.deliver(.callerHungUp)
                case .press(let keys): for key in keys { await runner.deliver(.key(key)) }
                case .promptEnds: await runner.deliver(.playbackFinished)
                case .wait(let seconds): await timers.advance(by: .seconds(seconds))
                case .expect(let expected):
                    let actual = unexpected.map(\.description)
                    unexpected.removeAll()
                    if actual != expected {
                        failures.append("step \(index + 1): expected \(expected), the call did \(actual)")
                    }
                }
            } else {
                failures.append("step \(index + 1): the first step must be a call")
                break
            }
            // Replies of the menu's HTTP requests are real: wait for them (bounded by their timeout).
            while let runner, await !runner.isSettled { try await Task.sleep(for: .milliseconds(5)) }
            for request in await port.takeRequests() {
                transcript.append(stamp("→ \(request)"))
                unexpected.append(request)
            }
        }

        var ratings: [Rating] = []
        var record: CallRecord?
        if let clientID, let uuid {
            ratings = try await store.ratings(RatingQuery(clientID: clientID, limit: 100_000)).filter { $0.callUUID == uuid }
            record = try await store.call(clientID: clientID, uuid: uuid)
            for rating in ratings {
                let place = try await store.ownedExtension(clientID: clientID, id: rating.extensionID)?.name ?? "\(rating.extensionID)"
                transcript.append(stamp("rating stored: \(rating.rate) of \(rating.maxRate) at \(place), of \(rating.agentUsername.map { "agent \($0)" } ?? "the call")"))
            }
            if let record {
                transcript.append(stamp("call history: \(record.hangupDisposition.rawValue), \(record.duration) s, bridged to \(record.bridgedUsername ?? "nobody")"))
            } else {
                transcript.append(stamp("the call is not over"))
            }
            failures += try await check(scenario, ratings: ratings, record: record, clientID: clientID)
        }
        return Report(transcript: transcript, failures: failures, ratings: ratings, call: record)
    }

    private func locate(number: String, scenario: Scenario) async throws -> (Client?, isDID: Bool) {
        if let did = try await store.did(number: number), scenario.clientID == nil || scenario.clientID == did.clientID {
            return (try await store.client(id: did.clientID), true)
        }
        guard let clientID = scenario.clientID else { return (nil, false) }
        return (try await store.client(id: clientID), false)
    }

    private func check(_ scenario: Scenario, ratings: [Rating], record: CallRecord?, clientID: Int64) async throws -> [String] {
        var failures: [String] = []
        if let expected = scenario.expectRatings {
            if expected.count != ratings.count {
                failures.append("expected \(expected.count) rating(s), \(ratings.count) stored")
            }
            for (want, got) in zip(expected, ratings) {
                if want.rate != got.rate { failures.append("rating: expected rate \(want.rate), stored \(got.rate)") }
                if let maxRate = want.maxRate, maxRate != got.maxRate { failures.append("rating: expected max_rate \(maxRate), stored \(got.maxRate)") }
                if let name = want.extension {
                    let stored = try await store.ownedExtension(clientID: clientID, id: got.extensionID)?.name
                    if stored != name { failures.append("rating: expected extension \(name), stored \(stored ?? "\(got.extensionID)")") }
                }
                if want.agent != got.agentUsername, want.agent != nil || want.target == "call" {
                    failures.append("rating: expected agent \(want.agent ?? "none"), stored \(got.agentUsername ?? "none")")
                }
                if let target = want.target, target != got.target.rawValue {
                    failures.append("rating: expected target \(target), stored \(got.target.rawValue)")
                }
            }
        }
        if let expected = scenario.expectOffers, let uuid = record?.callUUID ?? ratings.first?.callUUID {
            let (offered, rated) = try await store.ratingOfferCounts(clientID: clientID, callUUID: uuid)
            if (offered, rated) != (expected.offered, expected.rated) {
                failures.append("offers: expected \(expected.offered) offered, \(expected.rated) rated; recorded \(offered) offered, \(rated) rated")
            }
        }
        if let expected = scenario.expectCall {
            guard let record else { return failures + ["expected call history, the call is not over"] }
            if let disposition = expected.hangupDisposition, disposition != record.hangupDisposition.rawValue {
                failures.append("call: expected hangup_disposition \(disposition), recorded \(record.hangupDisposition.rawValue)")
            }
            if let bridged = expected.bridgedUsername, bridged != record.bridgedUsername {
                failures.append("call: expected bridged_username \(bridged), recorded \(record.bridgedUsername ?? "none")")
            }
        }
        return failures
    }

    static func describe(_ step: Scenario.Step) -> String {
        switch step {
        case .call(let to, let from): "call from \(from) to \(to)"
        case .callback(let plan): "callback from \(plan.sources) to \(plan.destination)"
        case .agentAnswers(let agent): "agent \(agent) answers"
        case .agentBusy(let agent): "agent \(agent) is busy"
        case .agentHangsUp(let agent): "agent \(agent) hangs up"
        case .callerHangsUp: "the caller hangs up"
        case .press(let keys): "the caller presses \(keys)"
        case .promptEnds: "the sound ends"
        case .wait(let seconds): "\(seconds) s pass"
        case .expect: "check what the call did"
        }
    }
}
