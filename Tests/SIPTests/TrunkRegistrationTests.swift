import SIP
import Testing

@Suite struct TrunkRegistrationTests {
    private static let account = TrunkRegistration.Account(
        registrar: "sip:prov.example", addressOfRecord: "sip:acct@prov.example", username: "acct", password: "pw", expires: 3600,
        contact: "<sip:acct@127.0.0.1:5060>", via: { Via.forNewRequest(transport: "UDP", host: "127.0.0.1", port: 5060) })

    private func sent(_ actions: [TrunkRegistration.Action]) -> SIPMessage? {
        for case .send(let message) in actions { return message }
        return nil
    }

    /// The REGISTER the event makes the registration send.
    private func request(_ registration: inout TrunkRegistration, _ event: TrunkRegistration.Event, at now: Int64) throws -> SIPMessage {
        let actions = registration.handle(event, at: now)
        return try #require(sent(actions))
    }

    private func timer(_ actions: [TrunkRegistration.Action]) -> Duration? {
        for case .armTimer(let delay) in actions { return delay }
        return nil
    }

    private func reported(_ actions: [TrunkRegistration.Action]) -> TrunkRegistration.Phase? {
        for case .report(let phase) in actions { return phase }
        return nil
    }

    private func answer(_ request: SIPMessage, _ status: Int, _ extra: [(String, String)] = []) -> SIPMessage {
        var response = request.response(status: status, reason: "R", toTag: "p")
        for (name, value) in extra { response.headers.add(name, value) }
        return response
    }

    @Test func registersAnsweringTheChallengeAndRefreshesBeforeExpiry() throws {
        var registration = TrunkRegistration(account: Self.account, callID: "reg-1", fromTag: "f")
        let started = registration.handle(.start, at: 1_000)
        #expect(reported(started) == .registering)
        #expect(try #require(timer(started)) <= .seconds(3))
        let first = try request(&registration, .timerFired, at: 1_001)
        #expect(first.method == "REGISTER" && first.headers["Authorization"] == nil && first.headers["Expires"] == "3600")
        #expect(first.headers["CSeq"] == "1 REGISTER")

        let second = try request(
            &registration, .response(answer(first, 401, [("WWW-Authenticate", "Digest realm=\"prov\", nonce=\"n1\", qop=\"auth\"")])), at: 1_001)
        #expect(second.headers["CSeq"] == "2 REGISTER" && second.headers["Call-ID"] == "reg-1")
        #expect(second.headers["Authorization"]?.contains("nc=00000001") == true)
        #expect(second.headers.values("Via").first != first.headers.values("Via").first)

        // The provider grants 120 s on our Contact: refreshed after 96 s, still authenticated.
        let registered = registration.handle(.response(answer(second, 200, [("Contact", "<sip:acct@127.0.0.1:5060>;expires=120")])), at: 1_002)
        #expect(reported(registered) == .registered(until: 1_122))
        #expect(timer(registered) == .seconds(96))
        let refresh = try request(&registration, .timerFired, at: 1_098)
        #expect(refresh.headers["CSeq"] == "3 REGISTER" && refresh.headers["Call-ID"] == "reg-1")
        #expect(refresh.headers["Authorization"]?.contains("nc=00000002") == true)
        // The nonce expired meanwhile: a new challenge is answered, no failure reported.
        let again = registration.handle(
            .response(answer(refresh, 401, [("WWW-Authenticate", "Digest realm=\"prov\", nonce=\"n2\", qop=\"auth\", stale=true")])), at: 1_098)
        #expect(reported(again) == nil)
        #expect(sent(again)?.headers["Authorization"]?.contains("nonce=\"n2\"") == true)
    }

    @Test func wrongCredentialsWaitTheForbiddenIntervalAndFailuresBackOff() throws {
        var registration = TrunkRegistration(account: Self.account, callID: "reg-2", fromTag: "f")
        _ = registration.handle(.start, at: 0)
        let first = try request(&registration, .timerFired, at: 1)
        let challenge = [("WWW-Authenticate", "Digest realm=\"prov\", nonce=\"n1\", qop=\"auth\"")]
        let answered = try request(&registration, .response(answer(first, 401, challenge)), at: 1)
        let refused = registration.handle(.response(answer(answered, 401, [("WWW-Authenticate", "Digest realm=\"prov\", nonce=\"n9\", qop=\"auth\"")])), at: 2)
        guard case .failed(let reason)? = reported(refused) else {
            Issue.record("expected a failure, got \(refused)")
            return
        }
        #expect(reason.contains("refused the credentials"))
        #expect(timer(refused) == TrunkRegistration.forbiddenRetry)

        var delays: [Duration] = []
        for _ in 0..<4 {
            let request = try request(&registration, .timerFired, at: 3)
            let failed = registration.handle(.response(answer(request, 503)), at: 3)
            delays.append(try #require(timer(failed)))
        }
        #expect(delays == [.seconds(10), .seconds(20), .seconds(40), .seconds(80)])
        let request = try request(&registration, .timerFired, at: 4)
        let forbidden = registration.handle(.response(answer(request, 403)), at: 4)
        #expect(timer(forbidden) == TrunkRegistration.forbiddenRetry)
    }

    @Test func stopRemovesTheBindingAndIgnoresLateAnswers() throws {
        var registration = TrunkRegistration(account: Self.account, callID: "reg-3", fromTag: "f")
        _ = registration.handle(.start, at: 0)
        let request = try request(&registration, .timerFired, at: 0)
        // A response to another CSeq (a retransmission's late twin) changes nothing.
        var other = answer(request, 200)
        other.headers.set("CSeq", "9 REGISTER")
        #expect(registration.handle(.response(other), at: 0).isEmpty)
        _ = registration.handle(.response(answer(request, 200, [("Expires", "600")])), at: 0)
        let stopped = registration.handle(.stop, at: 10)
        #expect(sent(stopped)?.headers["Expires"] == "0")
        #expect(registration.phase == .stopped)
        #expect(registration.handle(.timerFired, at: 11).isEmpty)
    }
}
