/// Keys sent as SIP INFO (the practice of many phones and gateways, besides RFC 4733):
/// `application/dtmf-relay` with `Signal=5` (and usually `Duration=160`), or `application/dtmf`
/// with the key alone. `Signal=10` and `11` are `*` and `#` for some senders.
public enum DTMFInfo {
    static let keys = Set("0123456789*#ABCD")

    /// The key an INFO request carries; nil when it is not one of these bodies or not one key.
    public static func key(in message: SIPMessage) -> Character? {
        guard message.method == "INFO",
            let contentType = message.headers["Content-Type"]?.split(separator: ";").first?.trimmingSIPWhitespace().lowercased(),
            let body = String(validating: message.body, as: UTF8.self)
        else { return nil }
        switch contentType {
        case "application/dtmf-relay":
            for line in body.split(whereSeparator: { $0 == "\n" || $0 == "\r\n" || $0 == "\r" }) {
                let parts = line.split(separator: "=", maxSplits: 1)
                guard parts.count == 2, parts[0].trimmingSIPWhitespace().lowercased() == "signal" else { continue }
                return key(parts[1].trimmingSIPWhitespace())
            }
            return nil
        case "application/dtmf":
            return key(body.trimmingSIPWhitespace())
        default:
            return nil
        }
    }

    private static func key(_ text: String) -> Character? {
        switch text {
        case "10": return "*"
        case "11": return "#"
        default:
            guard text.count == 1, let key = text.uppercased().first, keys.contains(key) else { return nil }
            return key
        }
    }
}
