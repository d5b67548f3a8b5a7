import Foundation

/// Halves the sample rate (16 kHz → 8 kHz). Dropping every other sample alone would fold
/// everything between 4 and 8 kHz back into the telephone band as noise, so a low-pass filter
/// removes it first: a 63-tap half-band FIR (windowed sinc, cut-off at a quarter of the input
/// rate, Blackman window: within 0.02 dB up to 3.4 kHz, more than 70 dB down above 4.7 kHz).
enum HalfRateDecimator {
    static let tapCount = 63

    /// The filter's taps, centred on index `tapCount / 2`, summing to 1 (unity gain at 0 Hz).
    /// Every even tap but the centre one of a half-band filter is zero.
    static let taps: [Double] = {
        let centre = tapCount / 2
        var taps = (0..<tapCount).map { index -> Double in
            let n = Double(index - centre)
            let sinc = n == 0 ? 0.5 : sin(Double.pi * n / 2) / (Double.pi * n)
            let phase = 2 * Double.pi * Double(index) / Double(tapCount - 1)
            let blackman = 0.42 - 0.5 * cos(phase) + 0.08 * cos(2 * phase)
            return sinc * blackman
        }
        let sum = taps.reduce(0, +)
        for index in taps.indices { taps[index] /= sum }
        return taps
    }()

    /// Every other sample of the low-passed signal; samples before the start and after the end
    /// count as silence. The filter's ripple may overshoot a full-scale input, so results are clamped.
    static func decimate(_ input: [Int16]) -> [Int16] {
        let centre = tapCount / 2
        let nonZero = taps.indices.filter { taps[$0] != 0 }
        return stride(from: 0, to: input.count, by: 2).map { position in
            var sum = 0.0
            for tap in nonZero {
                let source = position + centre - tap
                if source >= 0, source < input.count { sum += taps[tap] * Double(input[source]) }
            }
            return Int16(max(-32768, min(32767, sum.rounded())))
        }
    }
}
