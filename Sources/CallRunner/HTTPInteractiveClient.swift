public import AsyncHTTPClient
public import CallFlow
public import Domain
import Foundation
#if canImport(FoundationXML)
import FoundationXML
#endif
import NIOCore

/// `call_interactive` over HTTP: GET sends the parameters in the query, POST as a form; the reply
/// is the XML `<Response>` of REFERENCE-API §3.4. Bounded in time and size; any failure is nil,
/// and the menu goes on with its next rule.
public struct HTTPInteractiveClient: InteractiveClient {
    static let maxReplyBytes = 64 * 1024

    private let http: HTTPClient
    private let timeout: Duration

    /// `timeout` bounds the whole exchange (ours: 5 s), so a slow server never holds a caller long.
    public init(http: HTTPClient = .shared, timeout: Duration = .seconds(5)) {
        self.http = http
        self.timeout = timeout
    }

    public func request(url: String, method: IVRAction.HTTPMethod, parameters: [String: String]) async -> [VoiceMenuCall.InteractiveCommand]? {
        let form = parameters.sorted { $0.key < $1.key }
            .map { "\(Self.formEncode($0.key))=\(Self.formEncode($0.value))" }
            .joined(separator: "&")
        var request: HTTPClientRequest
        switch method {
        case .GET:
            request = HTTPClientRequest(url: url + (url.contains("?") ? "&" : "?") + form)
        case .POST:
            request = HTTPClientRequest(url: url)
            request.method = .POST
            request.headers.add(name: "Content-Type", value: "application/x-www-form-urlencoded")
            request.body = .bytes(ByteBuffer(string: form))
        }
        do {
            let response = try await http.execute(request, timeout: .nanoseconds(Int64(timeout.components.seconds) * 1_000_000_000 + timeout.components.attoseconds / 1_000_000_000))
            guard (200..<300).contains(response.status.code) else { return nil }
            let body = try await response.body.collect(upTo: Self.maxReplyBytes)
            return InteractiveReplyParser.commands(from: Data(body.readableBytesView))
        } catch {
            return nil
        }
    }

    private static func formEncode(_ text: String) -> String {
        var allowed = CharacterSet.alphanumerics
        allowed.insert(charactersIn: "-._~")
        return text.addingPercentEncoding(withAllowedCharacters: allowed) ?? ""
    }
}

/// Reads `<Response>` verbs: `SetVar name= value=` (or the value as text), `Jump context= option=`,
/// `Hangup`, `Transfer`/`SimpleTransfer` (the number as text or `number=`). Unknown verbs are
/// skipped; a document that is not XML, or has no `<Response>`, is nil.
enum InteractiveReplyParser {
    static func commands(from data: Data) -> [VoiceMenuCall.InteractiveCommand]? {
        let delegate = Delegate()
        let parser = XMLParser(data: data)
        parser.delegate = delegate
        guard parser.parse(), delegate.sawResponse else { return nil }
        return delegate.commands
    }

    private final class Delegate: NSObject, XMLParserDelegate {
        var commands: [VoiceMenuCall.InteractiveCommand] = []
        var sawResponse = false
        private var element: (name: String, attributes: [String: String])?
        private var text = ""

        func parser(_ parser: XMLParser, didStartElement name: String, namespaceURI: String?, qualifiedName: String?, attributes: [String: String] = [:]) {
            if name == "Response" { sawResponse = true }
            element = (name, attributes)
            text = ""
        }

        func parser(_ parser: XMLParser, foundCharacters string: String) {
            text += string
        }

        func parser(_ parser: XMLParser, didEndElement name: String, namespaceURI: String?, qualifiedName: String?) {
            guard let element, element.name == name else { return }
            let content = text.trimmingCharacters(in: .whitespacesAndNewlines)
            let attributes = element.attributes
            switch name {
            case "SetVar":
                if let variable = attributes["name"] {
                    commands.append(.setVariable(name: variable, value: attributes["value"] ?? content))
                }
            case "Jump":
                if let context = attributes["context"] {
                    commands.append(.jump(context: context, option: attributes["option"] ?? "start"))
                }
            case "Hangup":
                commands.append(.hangup)
            case "Transfer", "SimpleTransfer":
                let number = attributes["number"] ?? content
                if !number.isEmpty { commands.append(.transfer(destination: number)) }
            default:
                break
            }
            self.element = nil
        }
    }
}
