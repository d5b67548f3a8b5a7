public import Domain
import SIP

/// SIP digest authentication secrets (RFC 7616, RFC 8760): phones register as `name@domain`
/// with the client's domain as realm, and only HA1 is kept, so a leaked database does not
/// reveal passwords that may be reused elsewhere. Both algorithms are kept because phones
/// still commonly offer only MD5.
public enum SIPDigest {
    /// HA1 = hex(H("username:realm:password")) for MD5 and SHA-256.
    public static func ha1(username: String, realm: String, password: String) -> SIPCredentials {
        SIPCredentials(
            ha1MD5: DigestCredentials.ha1(username: username, realm: realm, password: password, algorithm: .md5),
            ha1SHA256: DigestCredentials.ha1(username: username, realm: realm, password: password, algorithm: .sha256))
    }
}
