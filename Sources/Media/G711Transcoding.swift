import Audio

extension G711Codec {
    /// The table that turns this law's codes into `target`'s, through the linear value they
    /// stand for; nil when there is nothing to convert.
    func transcodingTable(to target: G711Codec) -> [UInt8]? {
        switch (self, target) {
        case (.pcmu, .pcma): Self.ulawToAlaw
        case (.pcma, .pcmu): Self.alawToUlaw
        case (.pcmu, .pcmu), (.pcma, .pcma): nil
        }
    }

    private static let ulawToAlaw: [UInt8] = (0...255).map { G711.alaw(G711.linear(ulaw: UInt8($0))) }
    private static let alawToUlaw: [UInt8] = (0...255).map { G711.ulaw(G711.linear(alaw: UInt8($0))) }
}
