import Crypto
@testable import RTP
import Testing

private func bytes(_ hex: String) -> [UInt8] {
    let digits = Array(hex.filter { !$0.isWhitespace })
    return stride(from: 0, to: digits.count, by: 2).map { UInt8(String(digits[$0..<$0 + 2]), radix: 16)! }
}

@Suite struct SRTPTests {
    /// RFC 3711 Appendix B.2: the AES-CM keystream of session key 2B7E…4F3C from the IV
    /// F0F1…FCFD0000 (salt shifted, SSRC 0, index 0).
    @Test func aesCounterModeKeystreamOfAppendixB2() {
        let keystream = SRTPContext.keystream(
            key: SymmetricKey(data: bytes("2B7E151628AED2A6ABF7158809CF4F3C")), iv: bytes("F0F1F2F3F4F5F6F7F8F9FAFBFCFD0000"),
            length: 16 * 0xFF02)
        #expect(Array(keystream[0..<48]) == bytes("""
            E03EAD0935C95E80E166B16DD92B4EB4 D23513162B02D0F72A43A2FE4A5F97AB 41E95B3BB0A2E8DD477901E4FCA894C0
            """))
        // Blocks 0xFEFF, 0xFF00, 0xFF01: the counter carries across its low 16 bits' byte boundary.
        #expect(Array(keystream[(16 * 0xFEFF)...]) == bytes("""
            EC8CDF7398607CB0F2D21675EA9EA1E4 362B7C3C6773516318A077D7FC5073AE 6A2CC3787889374FBEB4C81B17BA6C44
            """))
    }

    /// RFC 3711 Appendix B.3: the session keys of master key E1F9…4139 and salt 0EC6…0B3AABE6.
    @Test func keyDerivationOfAppendixB3() throws {
        let material = try #require(SRTPKeyMaterial(masterKey: bytes("E1F97A0D3E018BE0D64FA32C06DE4139"), masterSalt: bytes("0EC675AD498AFEEBB6960B3AABE6")))
        let keys = SRTPContext.sessionKeys(material)
        #expect(keys.cipherKey == bytes("C61E7A93744F39EE10734AFE3FF7A087"))
        #expect(keys.salt == bytes("30CBBC08863D8C85D49DB34A9AE1"))
        #expect(keys.authenticationKey == bytes("CEBE321F6FF7716B6FD4AB49AF256A156D38BAA4"))
    }

    /// The packet the reference implementation (libsrtp's srtp_driver) protects with the B.3
    /// master key: SSRC CAFEBABE, sequence 0x1234, 16 bytes of 0xAB.
    static let plain = bytes("800F1234DECAFBADCAFEBABE" + String(repeating: "AB", count: 16))
    static let protected = bytes("800F1234DECAFBADCAFEBABE 4E55DC4CE79978D88CA4D215949D2402 B78D6ACC99EA179B8DBB")
    static let material = SRTPKeyMaterial(concatenated: bytes("E1F97A0D3E018BE0D64FA32C06DE41390EC675AD498AFEEBB6960B3AABE6"))!

    @Test func protectsAndUnprotectsLikeTheReferenceImplementation() throws {
        var sender = SRTPContext(Self.material)
        #expect(try sender.protect(Self.plain) == Self.protected)
        var receiver = SRTPContext(Self.material)
        #expect(try receiver.unprotect(Self.protected) == Self.plain)
    }

    @Test func roundTripsAStreamAcrossTheSequenceWrap() throws {
        var generator = SystemRandomNumberGenerator()
        let material = try #require(SRTPKeyMaterial(concatenated: (0..<30).map { _ in UInt8.random(in: 0...255, using: &generator) }))
        var sender = SRTPContext(material), receiver = SRTPContext(material)
        // From near the top of the sequence space, so the ROC goes from 0 to 1 on both sides.
        for index in 0..<200 {
            let packet = RTPPacket(
                marker: index == 0, payloadType: 0, sequenceNumber: UInt16(truncatingIfNeeded: 65_450 + index), timestamp: UInt32(index * 160),
                ssrc: 0x1234_5678, payload: (0..<160).map { UInt8(truncatingIfNeeded: $0 &+ index) }
            ).serialized()
            let protected = try sender.protect(packet)
            #expect(protected.count == packet.count + SRTPContext.tagLength)
            #expect(protected[12...].starts(with: packet[12...]) == false, "the payload is encrypted")
            #expect(try receiver.unprotect(protected) == packet)
        }
    }

    @Test func refusesATamperedPacketAndKeepsAcceptingTheStream() throws {
        var receiver = SRTPContext(Self.material)
        for position in [1, 3, 11, 12, 27, Self.protected.count - 1] {
            var tampered = Self.protected
            tampered[position] ^= 0x01
            #expect(throws: SRTPError.authenticationFailed) { try receiver.unprotect(tampered) }
        }
        var otherKey = SRTPContext(SRTPKeyMaterial(concatenated: Array(repeating: 7, count: 30))!)
        #expect(throws: SRTPError.authenticationFailed) { try otherKey.unprotect(Self.protected) }
        #expect(try receiver.unprotect(Self.protected) == Self.plain, "a refused packet changes nothing")
    }

    @Test func refusesReplaysAndWhatIsOlderThanTheWindow() throws {
        var sender = SRTPContext(Self.material), receiver = SRTPContext(Self.material)
        func packet(_ sequence: UInt16) throws -> [UInt8] {
            try sender.protect(RTPPacket(marker: false, payloadType: 0, sequenceNumber: sequence, timestamp: 0, ssrc: 42, payload: [1, 2, 3]).serialized())
        }
        let first = try packet(1000), late = try packet(1010), newest = try packet(1100), ancient = try packet(1030)
        _ = try receiver.unprotect(first)
        #expect(throws: SRTPError.replayed) { try receiver.unprotect(first) }
        _ = try receiver.unprotect(newest)
        #expect(throws: SRTPError.replayed) { try receiver.unprotect(late) }  // 90 behind: out of the 64-packet window
        #expect(throws: SRTPError.replayed) { try receiver.unprotect(newest) }
        _ = try receiver.unprotect(try packet(1090))  // late but inside the window: accepted once
        #expect(throws: SRTPError.replayed) { try receiver.unprotect(ancient) }
    }

    @Test func refusesWhatIsNotSRTPWithoutTrapping() {
        var receiver = SRTPContext(Self.material)
        #expect(throws: SRTPError.malformed) { try receiver.unprotect([]) }
        #expect(throws: SRTPError.malformed) { try receiver.unprotect(Array(Self.protected.prefix(21))) }
        #expect(throws: SRTPError.malformed) { try receiver.unprotect([0x40] + Self.protected.dropFirst()) }
        var generator = SystemRandomNumberGenerator()
        for _ in 0..<5_000 {
            let noise = (0..<Int.random(in: 0..<80, using: &generator)).map { _ in UInt8.random(in: 0...255, using: &generator) }
            #expect(throws: SRTPError.self) { try receiver.unprotect(noise) }
        }
        var sender = SRTPContext(Self.material)
        #expect(throws: SRTPError.malformed) { try sender.protect([0x80, 0]) }
    }
}
