import Metrics

/// The media counters of `/metrics`, made once per server so the packet path only increments.
struct MediaMetrics: Sendable {
    let packetsSent: Counter
    let packetsReceived: Counter
    /// Datagrams that are not RTP at all.
    let malformedDropped: Counter
    /// RTP that goes nowhere: audio on a leg that is not bridged, a payload type that was not
    /// negotiated, a telephone event the other leg cannot take.
    let unrelayedDropped: Counter
    /// SRTP that failed authentication or the replay check (RFC 3711 §3.3): tampered, replayed
    /// or under another key.
    let srtpRefused: Counter
    let openLegs: Gauge
    /// Sockets NIO closed after a send to an address this host cannot reach, opened again.
    let socketsReopened: Counter

    init(factory: any MetricsFactory) {
        packetsSent = Counter(label: "qualityrate_rtp_packets_sent_total", factory: factory)
        packetsReceived = Counter(label: "qualityrate_rtp_packets_received_total", factory: factory)
        malformedDropped = Counter(label: "qualityrate_rtp_packets_dropped_total", dimensions: [("reason", "not_rtp")], factory: factory)
        unrelayedDropped = Counter(label: "qualityrate_rtp_packets_dropped_total", dimensions: [("reason", "not_relayed")], factory: factory)
        srtpRefused = Counter(label: "qualityrate_rtp_packets_dropped_total", dimensions: [("reason", "srtp_refused")], factory: factory)
        openLegs = Gauge(label: "qualityrate_rtp_legs_open", factory: factory)
        socketsReopened = Counter(label: "qualityrate_rtp_sockets_reopened_total", factory: factory)
    }
}
