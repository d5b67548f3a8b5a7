import Access
import ArgumentParser
import Domain
import Logging
import Storage
import Foundation

struct Demo: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Fill a client with sample extensions, calls, call history and ratings over the last 90 days (marked as sample data); prints the SIP domain and the passwords it gave the sample phones as JSON.")

    @Option(name: .long, help: "The client to fill (its id, as printed by setup).")
    var client: Int64

    @Option(name: .long, help: "How many ratings to create.")
    var ratings = 2000

    @OptionGroup var database: DatabaseOption

    func validate() throws {
        guard (0...10_000_000).contains(ratings) else { throw ValidationError("--ratings: expected 0 to 10000000") }
    }

    func run() async throws {
        let (owner, summary) = try await database.withStore(logger: Logger(label: "qualityrate")) { store in
            guard let owner = try await store.client(id: client) else {
                throw ValidationError("--client: there is no client \(client); create one with 'qualityrate setup'")
            }
            var generator = SystemRandomNumberGenerator()
            return (owner, try await SampleData(store: store, client: owner).fill(ratings: ratings, using: &generator))
        }
        print(JSONLine.object([
            ("client_id", .number(owner.id)),
            ("domain", .string(owner.domain)),
            ("extensions", .number(Int64(summary.extensions))),
            ("calls", .number(Int64(summary.calls))),
            ("ratings", .number(Int64(summary.ratings))),
            ("sip_passwords", .object(summary.sipPasswords.map { ($0.phone, .string($0.password)) })),
        ]))
    }
}

/// Realistic sample data: agents (phones), two queues that rate the agent when the agent hangs
/// up first, and a feedback IVR that rates the whole call; calls spread over the last 90 days,
/// mostly in the client's working hours, some without a rating (the caller hung up first).
struct SampleData {
    let store: any Store
    let client: Client

    struct Summary: Sendable {
        var extensions = 0, calls = 0, ratings = 0
        /// The passwords this run gave the sample phones, by phone name.
        var sipPasswords: [(phone: String, password: String)] = []
    }

    static let agents = [
        ("101", "Anna Schmidt"), ("102", "Ben Okafor"), ("103", "Chloé Martin"), ("104", "Dmitri Ivanov"),
        ("105", "Elena García"), ("106", "Farid Haddad"), ("107", "Grace Lee"), ("108", "Hugo Rossi"),
    ]

    func fill(ratings: Int, using generator: inout some RandomNumberGenerator) async throws -> Summary {
        var summary = Summary()
        let existing = Dictionary(try await store.extensions(clientID: client.id).map { ($0.name, $0) }, uniquingKeysWith: { first, _ in first })
        func ensure(_ name: String, _ kind: Extension.Kind, _ label: String) async throws -> Extension {
            if let found = existing[name] { return found }
            summary.extensions += 1
            return try await store.createExtension(NewExtension(clientID: client.id, name: name, kind: kind, label: label, isSample: true))
        }
        // Only HA1 is stored (SIPDigest), so a phone's password is printed when it is set or
        // never: each new sample phone gets one, and so does one that has none yet (made by an
        // older demo); a phone that has one keeps it.
        func ensurePhone(_ name: String, _ label: String) async throws -> Extension {
            let password = Secrets.random(length: 16)
            let credentials = SIPDigest.ha1(username: name, realm: client.domain, password: password)
            let phone: Extension
            if let found = existing[name] {
                guard found.kind == .phone, try await store.sipCredentials(clientID: client.id, extensionID: found.id) == nil
                else { return found }
                try await store.updateExtension(found, credentials: credentials)
                phone = found
            } else {
                summary.extensions += 1
                phone = try await store.createExtension(
                    NewExtension(clientID: client.id, name: name, kind: .phone, label: label, isSample: true), status: .active,
                    credentials: credentials)
            }
            summary.sipPasswords.append((name, password))
            return phone
        }
        var agents: [Extension] = []
        for (name, label) in Self.agents { agents.append(try await ensurePhone(name, label)) }
        let isNew = existing["200"] == nil
        let queues = [try await ensure("200", .queue, "Support"), try await ensure("201", .queue, "Sales")]
        let feedback = try await ensure("099", .ivr, "Feedback")
        if isNew { try await configure(support: queues[0], sales: queues[1], feedback: feedback, agents: agents) }

        let zone = client.zone
        let now = UnixTime.now()
        let batchSize = 5000
        var created = 0
        while created < ratings {
            var calls: [CallRecord] = []
            var newRatings: [NewRating] = []
            var offers: [RatingOffer] = []
            while newRatings.count < min(batchSize, ratings - created) {
                let startedAt = workingHourInstant(before: now, zone: zone, using: &generator)
                let caller = "+49301234" + String(Int.random(in: 1000...9999, using: &generator))
                // Most agents hang up first, so most callers hear the rating prompt; about four in
                // five of those press a key (the statistics' response rate).
                let agentHungUp = Double.random(in: 0..<1, using: &generator) < 0.9
                let rates = Double.random(in: 0..<1, using: &generator) < 0.8
                let call: CallRecord
                let offer: RatingOffer?
                if Double.random(in: 0..<1, using: &generator) < 0.75 {
                    let queue = queues.randomElement(using: &generator)!
                    let isSupport = queue.id == queues[0].id
                    let agent = (isSupport ? agents.prefix(4) : agents.suffix(4)).randomElement(using: &generator)!
                    call = queueCall(queue: queue, agent: agent, caller: caller, startedAt: startedAt, agentHungUp: agentHungUp, using: &generator)
                    // Support rates in the queue; Sales hands the caller to the Feedback menu.
                    offer = agentHungUp
                        ? RatingOffer(
                            clientID: client.id, callUUID: call.callUUID, offeredAt: startedAt.adding(seconds: call.duration - 15),
                            extensionID: isSupport ? queue.id : feedback.id, agentUsername: agent.name)
                        : nil
                } else {
                    call = ivrCall(ivr: feedback, caller: caller, startedAt: startedAt, using: &generator)
                    offer = RatingOffer(
                        clientID: client.id, callUUID: call.callUUID, offeredAt: startedAt.adding(seconds: 2), extensionID: feedback.id,
                        agentUsername: nil)
                }
                if let offer {
                    offers.append(offer)
                    if rates { newRatings.append(rating(answering: offer, of: call, maxRate: offer.extensionID == feedback.id ? 9 : 5, using: &generator)) }
                }
                calls.append(call)
            }
            try await store.insertCalls(calls, isSample: true)
            try await store.recordRatingOffers(offers)
            try await store.insertRatings(newRatings)
            created += newRatings.count
            summary.calls += calls.count
        }
        summary.ratings = created
        return summary
    }

    /// Support rates its agents when they hang up first; Sales sends the caller to the Feedback
    /// menu, which rates 1–9 (still of the agent) with the built-in prompt and "thank you"
    /// (sound 0 and finish sound 0); each has a DID, 49305 + the client id in three
    /// digits + the extension name (49305001200 for client 1's Support).
    private func configure(support: Extension, sales: Extension, feedback: Extension, agents: [Extension]) async throws {
        for agent in agents.prefix(4) { _ = try await store.addQueueAgent(clientID: client.id, queueID: support.id, agentID: agent.id) }
        for agent in agents.suffix(4) { _ = try await store.addQueueAgent(clientID: client.id, queueID: sales.id, agentID: agent.id) }
        try await store.updateQueueOptions(
            clientID: client.id, queueID: support.id, QueueOptions(agentHangupAction: .qualityRate, strategy: .roundRobin))
        try await store.updateQueueOptions(
            clientID: client.id, queueID: sales.id,
            QueueOptions(agentHangupAction: .transfer, agentHangupTransferDestination: feedback.name, strategy: .longestIdleAgent))
        let main = try await store.createIVRContext(clientID: client.id, ivrID: feedback.id, .init(name: "main"))
        for action in [IVRAction.qualityRate(sound: 0, maxRate: 9, finishSound: 0), .hangup] {
            _ = try await store.createIVRRule(
                clientID: client.id, ivrID: feedback.id, contextID: main.id, option: "start", position: nil, IVRRuleDefinition(action: action))
        }
        for target in [support, sales, feedback] {
            let number = "49305" + String(format: "%03d", client.id % 1000) + target.name
            _ = try? await store.createDID(NewDID(clientID: client.id, number: number, extensionID: target.id, comment: "sample"))
        }
    }

    /// A moment in the last 90 days, between 08:00 and 20:00 on the client's wall clock.
    private func workingHourInstant(before now: UnixTime, zone: ClientTimeZone, using generator: inout some RandomNumberGenerator) -> UnixTime {
        let day = zone.localTime(of: now.adding(seconds: -86_400 * Int64.random(in: 0..<90, using: &generator)))
        let local = LocalDateTime(
            year: day.year, month: day.month, day: day.day, hour: Int64.random(in: 8..<20, using: &generator),
            minute: Int64.random(in: 0..<60, using: &generator), second: Int64.random(in: 0..<60, using: &generator))
        // Early enough that the longest sample call (90 s waiting, 900 s talking, then rating) has
        // ended by now: sample data never lies in the future.
        return min(zone.instant(of: local), now.adding(seconds: -1_800))
    }

    private func queueCall(
        queue: Extension, agent: Extension, caller: String, startedAt: UnixTime, agentHungUp: Bool,
        using generator: inout some RandomNumberGenerator
    ) -> CallRecord {
        let wait = Int64.random(in: 5...90, using: &generator)
        let talk = Int64.random(in: 40...900, using: &generator)
        let ratingTime: Int64 = agentHungUp ? 15 : 0
        let bridgedAt = startedAt.adding(seconds: wait)
        return CallRecord(
            callUUID: .random(using: &generator), clientID: client.id, extensionID: queue.id, extensionName: queue.name,
            extensionType: .queue, flow: .inbound, didNumber: "49305" + String(format: "%03d", client.id % 1000) + queue.name, didDomain: client.domain,
            fromUsername: caller, fromScreenName: nil, fromDomain: nil, bridgedUsername: agent.name,
            bridgedDomain: client.domain, bridgedAt: bridgedAt, bridgedDuration: talk, duration: wait + talk + ratingTime,
            hangupDisposition: agentHungUp ? .agentHangup : .callerHangup, startedAt: startedAt,
            legs: [
                CallLeg(role: .caller, aniNumber: caller, destNumber: queue.name, destDomain: client.domain,
                        application: .callcenter, startedAt: startedAt, duration: wait + talk + ratingTime),
                CallLeg(role: .agent, aniNumber: caller, destNumber: agent.name, destDomain: client.domain,
                        application: .callcenter, startedAt: bridgedAt, duration: talk),
            ])
    }

    private func ivrCall(ivr: Extension, caller: String, startedAt: UnixTime, using generator: inout some RandomNumberGenerator) -> CallRecord {
        let duration = Int64.random(in: 15...60, using: &generator)
        return CallRecord(
            callUUID: .random(using: &generator), clientID: client.id, extensionID: ivr.id, extensionName: ivr.name,
            extensionType: .ivr, flow: .inbound, didNumber: "49305" + String(format: "%03d", client.id % 1000) + ivr.name, didDomain: client.domain, fromUsername: caller,
            fromScreenName: nil, fromDomain: nil, bridgedUsername: nil, bridgedDomain: nil, bridgedAt: nil,
            bridgedDuration: nil, duration: duration, hangupDisposition: .callerHangup, startedAt: startedAt,
            legs: [
                CallLeg(role: .caller, aniNumber: caller, destNumber: ivr.name, destDomain: client.domain, application: .ivr,
                        startedAt: startedAt, duration: duration),
            ])
    }

    private func rating(
        answering offer: RatingOffer, of call: CallRecord, maxRate: Int64, using generator: inout some RandomNumberGenerator
    ) -> NewRating {
        // Callers mostly rate well; the tail of poor ratings is what supervisors look for.
        let weights: [Double] = (1...maxRate).map { pow(1.6, Double($0)) }
        var pick = Double.random(in: 0..<weights.reduce(0, +), using: &generator)
        var rate: Int64 = maxRate
        for (index, weight) in weights.enumerated() {
            if pick < weight { rate = Int64(index + 1); break }
            pick -= weight
        }
        return NewRating(
            clientID: client.id, callUUID: call.callUUID, ratedAt: call.startedAt.adding(seconds: call.duration - 5),
            extensionID: offer.extensionID, rate: rate, maxRate: maxRate, agentUsername: offer.agentUsername, isSample: true,
            offeredAt: offer.offeredAt)
    }
}
