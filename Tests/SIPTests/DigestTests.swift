import SIP
import Testing

@Suite struct DigestTests {
    @Test func checksTheRFC2617Example() throws {
        // RFC 2617 §3.5 (HTTP, but the same computation): Mufasa / Circle Of Life.
        let header = """
            Digest username="Mufasa", realm="testrealm@host.com", nonce="dcd98b7102dd2f0e8b11d0f600bfb0c093", \
            uri="/dir/index.html", qop=auth, nc=00000001, cnonce="0a4f113b", response="6629fae49393a05397450978507c4ef1", \
            opaque="5ccc069c403ebaf9f0171e9517f40e41"
            """
        let credentials = try #require(DigestCredentials(header))
        let ha1 = DigestCredentials.ha1(username: "Mufasa", realm: "testrealm@host.com", password: "Circle Of Life", algorithm: .md5)
        #expect(credentials.isValid(method: "GET", ha1: ha1))
        #expect(!credentials.isValid(method: "POST", ha1: ha1))
        let wrong = DigestCredentials.ha1(username: "Mufasa", realm: "testrealm@host.com", password: "circle of life", algorithm: .md5)
        #expect(!credentials.isValid(method: "GET", ha1: wrong))
    }

    @Test func checksSHA256AndTheFormWithoutQop() throws {
        let ha1 = DigestCredentials.ha1(username: "101", realm: "acme.local", password: "s3cret-pass", algorithm: .sha256)
        let ha2 = sha256Hex("REGISTER:sip:acme.local")
        let response = sha256Hex("\(ha1):abc:\(ha2)")
        let credentials = try #require(DigestCredentials(
            "Digest username=\"101\",realm=\"acme.local\",nonce=\"abc\",uri=\"sip:acme.local\",response=\"\(response)\",algorithm=SHA-256"))
        #expect(credentials.algorithm == .sha256)
        #expect(credentials.isValid(method: "REGISTER", ha1: ha1))
    }

    @Test func refusesWhatIsNotDigest() {
        #expect(DigestCredentials("Basic dXNlcjpwYXNz") == nil)
        #expect(DigestCredentials("Digest username=\"101\"") == nil)
        #expect(DigestCredentials("Digest username=\"1\", realm=\"r\", nonce=\"n\", uri=\"u\", response=\"x\", algorithm=SHA-512") == nil)
    }

    @Test func noncesExpireAndCannotBeForged() {
        let nonces = DigestNonces(secret: Array("server secret".utf8), lifetime: 300)
        let nonce = nonces.make(at: 1_000)
        #expect(nonces.check(nonce, at: 1_200) == .valid)
        #expect(nonces.check(nonce, at: 1_301) == .stale)
        #expect(DigestNonces(secret: Array("other".utf8)).check(nonce, at: 1_000) == .forged)
        #expect(nonces.check("3e8.0000", at: 1_000) == .forged)
        #expect(nonces.check("garbage", at: 1_000) == .forged)
    }

    @Test func challengesNameTheAlgorithm() {
        #expect(DigestChallenge(realm: "acme.local", nonce: "n1", algorithm: .sha256, stale: true).headerValue
            == "Digest realm=\"acme.local\", nonce=\"n1\", algorithm=SHA-256, qop=\"auth\", stale=TRUE")
    }
}

import Crypto

func sha256Hex(_ text: String) -> String {
    SHA256.hash(data: Array(text.utf8)).map { String(format: "%02x", $0) }.joined()
}
