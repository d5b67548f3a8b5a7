import SIP
import Testing

@Suite struct DigestClientTests {
    private func challenge(_ status: Int, _ values: [String]) -> SIPMessage {
        var headers = SIPHeaders([("Via", "SIP/2.0/UDP 127.0.0.1:5060;branch=z9hG4bKa"), ("CSeq", "1 REGISTER")])
        for value in values { headers.add(status == 407 ? "Proxy-Authenticate" : "WWW-Authenticate", value) }
        return SIPMessage(startLine: .response(status: status, reason: "Unauthorized"), headers: headers)
    }

    @Test func answersTheRFC2617Example() throws {
        // RFC 2617 §3.5: Mufasa / Circle Of Life, cnonce 0a4f113b, nc 1 → 6629fae4…
        var client = DigestClient(username: "Mufasa", password: "Circle Of Life")
        let response = challenge(401, [
            "Digest realm=\"testrealm@host.com\", qop=\"auth,auth-int\", nonce=\"dcd98b7102dd2f0e8b11d0f600bfb0c093\", opaque=\"5ccc069c403ebaf9f0171e9517f40e41\""
        ])
        let outcome = client.answer(response, method: "GET", uri: "/dir/index.html", clientNonce: "0a4f113b")
        guard case .answer(let header, let value) = outcome else {
            Issue.record("expected an answer, got \(outcome)")
            return
        }
        #expect(header == "Authorization")
        #expect(value.contains("response=\"6629fae49393a05397450978507c4ef1\""))
        #expect(value.contains("qop=auth, nc=00000001, cnonce=\"0a4f113b\""))
        #expect(value.contains("opaque=\"5ccc069c403ebaf9f0171e9517f40e41\""))
    }

    @Test func answersAreAcceptedByThisServersOwnCheckInBothAlgorithms() throws {
        for algorithm in [DigestAlgorithm.md5, .sha256] {
            var authenticator = DigestAuthenticator(nonces: DigestNonces(secret: Array("s".utf8)), algorithms: [algorithm])
            let secrets = PhoneSecrets(
                ha1MD5: DigestCredentials.ha1(username: "acct", realm: "prov.example", password: "pw", algorithm: .md5),
                ha1SHA256: DigestCredentials.ha1(username: "acct", realm: "prov.example", password: "pw", algorithm: .sha256))
            var request = SIPMessage(
                startLine: .request(method: "INVITE", uri: "sip:4912345@prov.example"),
                headers: SIPHeaders([("Via", "SIP/2.0/UDP 127.0.0.1;branch=z9hG4bKb"), ("From", "<sip:a@b>;tag=1"), ("To", "<sip:c@d>"),
                    ("Call-ID", "x"), ("CSeq", "1 INVITE")]))
            let challenged = authenticator.refusal(
                of: request, user: "acct", realm: "prov.example", secrets: secrets, challenger: .proxy, toTag: "t", at: 100)
            let refusal = try #require(challenged)
            #expect(refusal.status == 407)
            var client = DigestClient(username: "acct", password: "pw")
            guard case .answer(let header, let value) = client.answer(refusal, method: "INVITE", uri: "sip:4912345@prov.example", clientNonce: "cn")
            else {
                Issue.record("no answer to the 407")
                return
            }
            #expect(header == "Proxy-Authorization")
            request.headers.add(header, value)
            let verdict = authenticator.refusal(
                of: request, user: "acct", realm: "prov.example", secrets: secrets, challenger: .proxy, toTag: "t", at: 101)
            #expect(verdict == nil)
        }
    }

    @Test func prefersSHA256AndAnswersWithoutQopInTheOldForm() throws {
        var client = DigestClient(username: "u", password: "p")
        let both = challenge(401, ["Digest realm=\"r\", nonce=\"n1\", algorithm=MD5, qop=\"auth\"", "Digest realm=\"r\", nonce=\"n1\", algorithm=SHA-256, qop=\"auth\""])
        guard case .answer(_, let value) = client.answer(both, method: "REGISTER", uri: "sip:r", clientNonce: "c") else {
            Issue.record("no answer")
            return
        }
        #expect(value.contains("algorithm=SHA-256"))
        var old = DigestClient(username: "u", password: "p")
        guard case .answer(_, let plain) = old.answer(challenge(401, ["Digest realm=\"r\", nonce=\"n2\""]), method: "REGISTER", uri: "sip:r", clientNonce: "c")
        else {
            Issue.record("no answer")
            return
        }
        #expect(!plain.contains("qop") && !plain.contains("nc="))
        #expect(DigestClient.Challenge("Digest realm=\"r\", nonce=\"n\", qop=\"auth-int\"") == nil)
        #expect(DigestClient.Challenge("Digest realm=\"r\", nonce=\"n\", algorithm=SHA-512-256") == nil)
    }

    @Test func aSecondChallengeToAnsweredCredentialsIsARefusalUnlessStale() {
        var client = DigestClient(username: "u", password: "wrong")
        let first = challenge(401, ["Digest realm=\"r\", nonce=\"n1\", qop=\"auth\""])
        #expect(client.answer(first, method: "REGISTER", uri: "sip:r", clientNonce: "c") != .refused)
        // A provider making a new nonce for every challenge still means: wrong password.
        #expect(client.answer(challenge(401, ["Digest realm=\"r\", nonce=\"n2\", qop=\"auth\""]), method: "REGISTER", uri: "sip:r", clientNonce: "c") == .refused)
        var stale = DigestClient(username: "u", password: "p")
        _ = stale.answer(first, method: "REGISTER", uri: "sip:r", clientNonce: "c")
        let again = stale.answer(challenge(401, ["Digest realm=\"r\", nonce=\"n3\", qop=\"auth\", stale=TRUE"]), method: "REGISTER", uri: "sip:r", clientNonce: "c")
        guard case .answer(_, let value) = again else {
            Issue.record("a stale nonce is answered again, got \(again)")
            return
        }
        #expect(value.contains("nc=00000001"))
        // Once the provider accepted, the next challenge is answered afresh.
        stale.settled()
        #expect(stale.answer(challenge(401, ["Digest realm=\"r\", nonce=\"n4\", qop=\"auth\""]), method: "REGISTER", uri: "sip:r", clientNonce: "c") != .refused)
        #expect(client.answer(challenge(401, []), method: "REGISTER", uri: "sip:r", clientNonce: "c") == .unanswerable)
    }
}
