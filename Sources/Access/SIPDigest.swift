import Crypto
public import Domain
import Foundation

/// SIP digest authentication secrets (RFC 7616, RFC 8760): phones register as `name@domain`
/// with the client's domain as realm, and only HA1 is kept, so a leaked database does not
/// reveal passwords that may be reused elsewhere. Both algorithms are kept because phones
/// still commonly offer only MD5.
public enum SIPDigest {
    /// HA1 = hex(H("username:realm:password")) for MD5 and SHA-256.
    public static func ha1(username: String, realm: String, password: String) -> SIPCredentials {
        let input = Array("\(username):\(realm):\(password)".utf8)
        return SIPCredentials(ha1MD5: hex(Insecure.MD5.hash(data: input)), ha1SHA256: hex(SHA256.hash(data: input)))
    }

    private static func hex(_ digest: some Digest) -> String {
        digest.map { String(format: "%02x", $0) }.joined()
    }
}
