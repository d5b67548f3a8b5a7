public import Admission
import Foundation
import Metrics
import Synchronization

/// The server's `CallAdmission`, shared by the INVITEs arriving, the calls the API starts and
/// the sessions ending: each verdict is taken and committed under one lock, with no suspension
/// in between, so two INVITEs arriving together can never both take the last place.
public final class CallGate: Sendable {
    private let admission: Mutex<CallAdmission<String>>
    private let active = Gauge(label: "qualityrate_calls_active")

    public init(limits: CallAdmission<String>.Limits) {
        admission = Mutex(CallAdmission(limits: limits))
    }

    public var limits: CallAdmission<String>.Limits { admission.withLock { $0.limits } }

    /// A new call from `source`; when admitted, the caller owns a place until `ended()`.
    func admit(from source: String) -> CallAdmission<String>.Verdict {
        let now = ProcessInfo.processInfo.systemUptime
        let (verdict, count) = admission.withLock { ($0.admit(from: source, at: now), $0.activeCalls) }
        active.record(count)
        if case .refused(let refusal, _) = verdict {
            Counter(label: "qualityrate_sip_calls_refused_total", dimensions: [("limit", refusal.label)]).increment()
        }
        return verdict
    }

    func ended() {
        active.record(admission.withLock { state in
            state.ended()
            return state.activeCalls
        })
    }
}
