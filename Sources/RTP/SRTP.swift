import Crypto
import _CryptoExtras

/// The master key and salt of one direction of an SRTP session, as SDES carries them
/// (RFC 4568 §6.1: `inline:` base64 of key ‖ salt), for the one suite this server speaks:
/// `AES_CM_128_HMAC_SHA1_80` (RFC 4568 §6.2.1 — AES-128 counter mode, HMAC-SHA1 tag of 80 bits,
/// key derivation rate 0, no MKI).
public struct SRTPKeyMaterial: Sendable, Equatable {
    public static let keyLength = 16
    public static let saltLength = 14

    public let masterKey: [UInt8]
    public let masterSalt: [UInt8]

    /// nil unless the key is 16 bytes and the salt 14.
    public init?(masterKey: [UInt8], masterSalt: [UInt8]) {
        guard masterKey.count == Self.keyLength, masterSalt.count == Self.saltLength else { return nil }
        self.masterKey = masterKey
        self.masterSalt = masterSalt
    }

    /// The 30 bytes of an `inline:` key parameter: key, then salt.
    public init?(concatenated bytes: [UInt8]) {
        guard bytes.count == Self.keyLength + Self.saltLength else { return nil }
        self.init(masterKey: Array(bytes.prefix(Self.keyLength)), masterSalt: Array(bytes.suffix(Self.saltLength)))
    }

    public var concatenated: [UInt8] { masterKey + masterSalt }
}

/// Why a packet was not protected or unprotected.
public enum SRTPError: Error, Sendable, Equatable {
    /// Shorter than an RTP header (with its CSRCs and extension) and the tag, or not RTP version 2.
    case malformed
    /// The authentication tag does not match (RFC 3711 §3.3 step 5): tampered, or another key.
    case authenticationFailed
    /// The index was already received, or is older than the replay window (RFC 3711 §3.3.2).
    case replayed
}

/// One direction of SRTP (RFC 3711) with `AES_CM_128_HMAC_SHA1_80`: the session keys derived
/// from a master key (§4.3, key derivation rate 0), and per SSRC the rollover counter, the
/// highest sequence number and, when receiving, the replay window. A plain value: `protect`
/// turns an RTP packet into SRTP, `unprotect` an SRTP packet back into RTP, each updating the
/// state of the packet's SSRC. Use one context to send and another to receive — each direction
/// of a session has its own master key in SDES (RFC 4568 §6.1).
///
/// Not supported: MKI, key derivation rates other than 0, SRTCP (this server sends no RTCP and
/// ignores what arrives), other suites.
public struct SRTPContext: Sendable {
    /// The size of the replay window (RFC 3711 §3.3.2 asks for at least 64).
    public static let replayWindowSize: UInt64 = 64
    /// The authentication tag of `AES_CM_128_HMAC_SHA1_80`: 80 bits (RFC 3711 §5.2).
    public static let tagLength = 10
    /// SSRCs tracked at once; past this the one least recently seen is forgotten. A leg sends its
    /// own stream and the relayed one, and receives one or two (a phone changing its stream).
    static let maximumStreams = 8

    /// Per-SSRC state (RFC 3711 §3.2.1): ROC, highest sequence number s_l, replay bitmap.
    struct Stream: Sendable {
        var rolloverCounter: UInt32
        var highestSequence: UInt16
        /// Bit n set: the index `highestIndex - n` was received.
        var window: UInt64
        var lastUse: UInt64

        var highestIndex: UInt64 { UInt64(rolloverCounter) << 16 | UInt64(highestSequence) }
    }

    // Kept as bytes: `SymmetricKey` is not `Sendable` in this swift-crypto.
    private let cipherKey: [UInt8]
    private let authenticationKey: [UInt8]
    private let sessionSalt: [UInt8]
    private var streams: [UInt32: Stream] = [:]
    private var uses: UInt64 = 0

    public init(_ material: SRTPKeyMaterial) {
        let keys = Self.sessionKeys(material)
        cipherKey = keys.cipherKey
        authenticationKey = keys.authenticationKey
        sessionSalt = keys.salt
    }

    /// The SRTP session keys of a master key (RFC 3711 §4.3.1 with kdr 0, so r = 0): each is
    /// the AES-CM keystream (§4.3.3) under the master key, from IV = (label ‖ 0⁴⁸) XOR master salt,
    /// shifted left 16 bits. Labels: 0x00 cipher key (16 bytes), 0x01 authentication key (20),
    /// 0x02 salt (14).
    static func sessionKeys(_ material: SRTPKeyMaterial) -> (cipherKey: [UInt8], authenticationKey: [UInt8], salt: [UInt8]) {
        let masterKey = SymmetricKey(data: material.masterKey)
        func derive(label: UInt8, length: Int) -> [UInt8] {
            var iv = material.masterSalt + [0, 0]
            // key_id = label ‖ r (48 bits, 0) is aligned to the right of the 112-bit salt: the
            // label XORs byte 7 of the salt (RFC 3711 §4.3.1).
            iv[7] ^= label
            return keystream(key: masterKey, iv: iv, length: length)
        }
        return (derive(label: 0x00, length: 16), derive(label: 0x01, length: 20), derive(label: 0x02, length: 14))
    }

    /// `length` bytes of AES in counter mode from the 128-bit block `iv` (RFC 3711 §4.1.1).
    static func keystream(key: SymmetricKey, iv: [UInt8], length: Int) -> [UInt8] {
        xorKeystream(Array(repeating: 0, count: length), key: key, iv: iv)
    }

    private static func xorKeystream(_ bytes: [UInt8], key: SymmetricKey, iv: [UInt8]) -> [UInt8] {
        guard !bytes.isEmpty else { return [] }
        // The key is 128 bits and the IV 16 bytes, which is all `AES._CTR` can refuse.
        let nonce = try! AES._CTR.Nonce(nonceBytes: iv)
        return Array(try! AES._CTR.encrypt(bytes, using: key, nonce: nonce))
    }

    /// RTP packet → SRTP packet: the payload encrypted, then the tag over header, encrypted
    /// payload and ROC appended (RFC 3711 §3.3). The sender's ROC goes up when its sequence
    /// numbers wrap; a packet older than the highest sent keeps the ROC of its time (§3.3.1).
    public mutating func protect(_ packet: [UInt8]) throws(SRTPError) -> [UInt8] {
        guard let header = Self.headerLength(packet, trailer: 0) else { throw .malformed }
        let ssrc = Self.ssrc(of: packet)
        let sequence = UInt16(packet[2]) << 8 | UInt16(packet[3])
        uses += 1
        var stream = streams[ssrc] ?? Stream(rolloverCounter: 0, highestSequence: sequence, window: 0, lastUse: uses)
        let rollover = Self.estimatedRollover(sequence, stream)
        let index = UInt64(rollover) << 16 | UInt64(sequence)
        if index > stream.highestIndex {
            stream.rolloverCounter = rollover
            stream.highestSequence = sequence
        }
        stream.lastUse = uses
        remember(stream, for: ssrc)
        var protected = Array(packet[..<header])
        protected += Self.xorKeystream(Array(packet[header...]), key: SymmetricKey(data: cipherKey), iv: packetIV(ssrc: ssrc, index: index))
        return protected + tag(protected, rollover: rollover)
    }

    /// SRTP packet → RTP packet, after the replay check and authentication (RFC 3711 §3.3.2,
    /// §3.4): a packet that fails either changes nothing. The first packet of an SSRC starts its
    /// stream at ROC 0 (§3.3.1).
    public mutating func unprotect(_ packet: [UInt8]) throws(SRTPError) -> [UInt8] {
        guard let header = Self.headerLength(packet, trailer: Self.tagLength) else { throw .malformed }
        let ssrc = Self.ssrc(of: packet)
        let sequence = UInt16(packet[2]) << 8 | UInt16(packet[3])
        let known = streams[ssrc]
        let rollover = known.map { Self.estimatedRollover(sequence, $0) } ?? 0
        let index = UInt64(rollover) << 16 | UInt64(sequence)
        if let known {
            if index <= known.highestIndex {
                let age = known.highestIndex - index
                guard age < Self.replayWindowSize, known.window & (1 << age) == 0 else { throw .replayed }
            }
        }
        let body = packet.count - Self.tagLength
        let authenticated = Array(packet[..<body])
        guard Self.constantTimeEqual(tag(authenticated, rollover: rollover), Array(packet[body...])) else { throw .authenticationFailed }
        uses += 1
        var stream = known ?? Stream(rolloverCounter: rollover, highestSequence: sequence, window: 1, lastUse: uses)
        if known != nil {
            if index > stream.highestIndex {
                let shift = index - stream.highestIndex
                stream.window = (shift < Self.replayWindowSize ? stream.window << shift : 0) | 1
                stream.rolloverCounter = rollover
                stream.highestSequence = sequence
            } else {
                stream.window |= 1 << (stream.highestIndex - index)
            }
        }
        stream.lastUse = uses
        remember(stream, for: ssrc)
        return Array(packet[..<header]) + Self.xorKeystream(Array(packet[header..<body]), key: SymmetricKey(data: cipherKey), iv: packetIV(ssrc: ssrc, index: index))
    }

    private mutating func remember(_ stream: Stream, for ssrc: UInt32) {
        if streams[ssrc] == nil, streams.count >= Self.maximumStreams,
            let oldest = streams.min(by: { $0.value.lastUse < $1.value.lastUse })?.key
        {
            streams[oldest] = nil
        }
        streams[ssrc] = stream
    }

    /// The ROC of a packet with sequence number `sequence` (RFC 3711 §3.3.1, Appendix A): the
    /// stream's, one more when the sequence has wrapped past s_l, one less for a late packet of
    /// before the last wrap.
    static func estimatedRollover(_ sequence: UInt16, _ stream: Stream) -> UInt32 {
        let highest = Int(stream.highestSequence), seq = Int(sequence), roc = stream.rolloverCounter
        if highest < 32_768 {
            return seq - highest > 32_768 && roc > 0 ? roc - 1 : roc
        } else {
            return highest - 32_768 > seq ? roc &+ 1 : roc
        }
    }

    /// IV = (k_s · 2¹⁶) XOR (SSRC · 2⁶⁴) XOR (i · 2¹⁶) (RFC 3711 §4.1.1).
    private func packetIV(ssrc: UInt32, index: UInt64) -> [UInt8] {
        var iv = sessionSalt + [0, 0]
        for byte in 0..<4 { iv[4 + byte] ^= UInt8(truncatingIfNeeded: ssrc >> (24 - 8 * byte)) }
        for byte in 0..<6 { iv[8 + byte] ^= UInt8(truncatingIfNeeded: index >> (40 - 8 * byte)) }
        return iv
    }

    /// HMAC-SHA1 over the authenticated portion ‖ ROC, cut to 80 bits (RFC 3711 §4.2).
    private func tag(_ authenticated: [UInt8], rollover: UInt32) -> [UInt8] {
        var hmac = HMAC<Insecure.SHA1>(key: SymmetricKey(data: authenticationKey))
        hmac.update(data: authenticated)
        hmac.update(data: [UInt8(rollover >> 24), UInt8(rollover >> 16 & 0xFF), UInt8(rollover >> 8 & 0xFF), UInt8(rollover & 0xFF)])
        return Array(Array(hmac.finalize()).prefix(Self.tagLength))
    }

    /// The length of the RTP header with its CSRCs and extension — what SRTP leaves in the clear —
    /// when `packet` holds that much and `trailer` bytes more; nil otherwise.
    static func headerLength(_ packet: [UInt8], trailer: Int) -> Int? {
        guard packet.count >= 12 + trailer, packet[0] >> 6 == 2 else { return nil }
        var length = 12 + Int(packet[0] & 0x0F) * 4
        if packet[0] & 0x10 != 0 {
            guard packet.count >= length + 4 + trailer else { return nil }
            length += 4 + (Int(packet[length + 2]) << 8 | Int(packet[length + 3])) * 4
        }
        return length + trailer <= packet.count ? length : nil
    }

    private static func ssrc(of packet: [UInt8]) -> UInt32 {
        UInt32(packet[8]) << 24 | UInt32(packet[9]) << 16 | UInt32(packet[10]) << 8 | UInt32(packet[11])
    }

    private static func constantTimeEqual(_ a: [UInt8], _ b: [UInt8]) -> Bool {
        guard a.count == b.count else { return false }
        var difference: UInt8 = 0
        for index in a.indices { difference |= a[index] ^ b[index] }
        return difference == 0
    }
}
