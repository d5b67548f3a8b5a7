import Domain
import NIOCore
import NIOPosix
import SIPTransport

/// Where a trunk's SIP goes: its host looked up (A/AAAA through the system's resolver, on a
/// thread of its own since `getaddrinfo` blocks) with its port and transport. This server makes
/// no RFC 3263 NAPTR/SRV lookups: a provider that publishes only SRV records is given by the
/// host and port those name (docs/SIP.md). An answer is kept for `lifetime`, so a burst of calls
/// does not look the same name up a thousand times, and a provider that moves is followed. An
/// address outside `--provider-addresses` is refused.
actor TrunkAddresses {
    enum Failure: Error, CustomStringConvertible {
        case unresolvable(host: String)
        case notAllowed(address: String)

        var description: String {
            switch self {
            case .unresolvable(let host): "the host \(host) does not resolve"
            case .notAllowed(let address): "the address \(address) is outside --provider-addresses"
            }
        }
    }

    private var known: [String: (address: SocketAddress, at: ContinuousClock.Instant)] = [:]
    private let lifetime: Duration = .seconds(60)
    private let allowed: [AddressRange]

    init(allowed: [AddressRange]) { self.allowed = allowed }

    func peer(of trunk: Trunk) async -> Result<SIPPeer, Failure> {
        guard let address = await address(of: trunk) else { return .failure(.unresolvable(host: trunk.host)) }
        let text = address.ipAddress ?? "\(address)"
        guard allowed.isEmpty || allowed.contains(where: { $0.contains(text) }) else { return .failure(.notAllowed(address: text)) }
        return .success(SIPPeer(transport: Self.transport(trunk), address: address))
    }

    /// Nil when the host does not resolve.
    private func address(of trunk: Trunk) async -> SocketAddress? {
        let key = "\(trunk.host):\(trunk.port)"
        let now = ContinuousClock.now
        if let cached = known[key], now - cached.at < lifetime { return cached.address }
        let host = trunk.host.hasPrefix("[") ? String(trunk.host.dropFirst().dropLast()) : trunk.host
        let port = trunk.port
        let address: SocketAddress
        if let literal = try? SocketAddress(ipAddress: host, port: port) {
            address = literal
        } else {
            guard let resolved = try? await NIOThreadPool.singleton.runIfActive({ try SocketAddress.makeAddressResolvingHost(host, port: port) })
            else { return nil }
            address = resolved
        }
        known[key] = (address, now)
        return address
    }

    static func transport(_ trunk: Trunk) -> SIPTransportKind {
        switch trunk.transport {
        case .udp: .udp
        case .tcp: .tcp
        }
    }
}
