import Domain
import NIOCore
import NIOPosix
import SIPTransport

/// Where a trunk's SIP goes: its host looked up (A/AAAA through the system's resolver, on a
/// thread of its own since `getaddrinfo` blocks) with its port and transport. This server makes
/// no RFC 3263 NAPTR/SRV lookups: a provider that publishes only SRV records is given by the
/// host and port those name (docs/SIP.md). An answer is kept for `lifetime`, so a burst of calls
/// does not look the same name up a thousand times, and a provider that moves is followed.
actor TrunkAddresses {
    private var known: [String: (address: SocketAddress, at: ContinuousClock.Instant)] = [:]
    private let lifetime: Duration = .seconds(60)

    /// Nil when the host does not resolve.
    func peer(of trunk: Trunk) async -> SIPPeer? {
        let key = "\(trunk.host):\(trunk.port)"
        let now = ContinuousClock.now
        if let cached = known[key], now - cached.at < lifetime {
            return SIPPeer(transport: Self.transport(trunk), address: cached.address)
        }
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
        return SIPPeer(transport: Self.transport(trunk), address: address)
    }

    static func transport(_ trunk: Trunk) -> SIPTransportKind {
        switch trunk.transport {
        case .udp: .udp
        case .tcp: .tcp
        }
    }
}
