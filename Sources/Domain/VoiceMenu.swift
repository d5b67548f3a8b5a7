// The configuration of a voice menu (IVR, SPEC §4.2): options, contexts, and per context
// option the ordered rules the engine runs for a call.

/// The settings of one IVR extension. An IVR that was never configured has `IVROptions()`.
public struct IVROptions: Sendable, Equatable {
    public enum LifetimeExpiryAction: String, Sendable, CaseIterable {
        case transfer, hangup
    }

    /// The context a call enters; 0 = none yet (the call is hung up).
    public var entryContext: Int64
    /// Seconds after which a call is taken out of the IVR; 0 = no limit.
    public var lifetime: Int64
    public var lifetimeExpiryAction: LifetimeExpiryAction
    /// Where the call goes when `lifetimeExpiryAction` is `transfer`.
    public var lifetimeExpiryTransferDestination: String?
    /// Milliseconds to wait after answering before the first rule, so a greeting is not clipped.
    public var sleepTime: Int64

    public init(
        entryContext: Int64 = 0, lifetime: Int64 = 0, lifetimeExpiryAction: LifetimeExpiryAction = .hangup,
        lifetimeExpiryTransferDestination: String? = nil, sleepTime: Int64 = 0
    ) {
        self.entryContext = entryContext
        self.lifetime = lifetime
        self.lifetimeExpiryAction = lifetimeExpiryAction
        self.lifetimeExpiryTransferDestination = lifetimeExpiryTransferDestination
        self.sleepTime = sleepTime
    }
}

/// A named set of options inside an IVR.
public struct IVRContext: Sendable, Equatable {
    /// What a context is made of, without its identity: what is created and changed.
    public struct Settings: Sendable, Equatable {
        public var name: String
        /// Milliseconds to wait for a key after the last rule before the `timeout` option runs.
        public var timeout: Int64
        /// Milliseconds between two keys after which the input counts as complete.
        public var interDigitTimeout: Int64
        /// The input is complete once this many keys were pressed; nil = no limit.
        public var digitLength: Int64?

        public init(name: String, timeout: Int64 = 5000, interDigitTimeout: Int64 = 2000, digitLength: Int64? = nil) {
            self.name = name
            self.timeout = timeout
            self.interDigitTimeout = interDigitTimeout
            self.digitLength = digitLength
        }
    }

    public var id: Int64
    public var ivrID: Int64
    public var settings: Settings

    public init(id: Int64, ivrID: Int64, settings: Settings) {
        self.id = id
        self.ivrID = ivrID
        self.settings = settings
    }
}

/// The key of an option inside a context: one of the three built-in events, or the keys pressed.
public enum IVROptionDigits {
    /// Every context has these, whether or not they have rules.
    public static let builtIn = ["start", "timeout", "invalid"]
    public static let maximumKeys = 20

    /// Whether `text` names an option: a built-in one, or 1…20 of `0-9`, `*`, `#`.
    public static func isValid(_ text: String) -> Bool {
        if builtIn.contains(text) { return true }
        return (1...maximumKeys).contains(text.utf8.count)
            && text.utf8.allSatisfy { (0x30...0x39).contains($0) || $0 == UInt8(ascii: "*") || $0 == UInt8(ascii: "#") }
    }
}

/// What a rule does when it runs, with the parameters of that action.
public enum IVRAction: Sendable, Equatable {
    public enum SoundType: String, Sendable, CaseIterable {
        /// The sound plays to its end before keys are taken.
        case foreground
        /// Keys are taken while the sound plays.
        case background
    }

    public enum HTTPMethod: String, Sendable, CaseIterable {
        case GET, POST
    }

    case playSound(sound: Int64, type: SoundType)
    case hangup
    case transfer(destination: String)
    /// Continues with `option` of the context `contextID` (of the same IVR).
    case jumpToContext(contextID: Int64, option: String)
    case setVariable(name: String, value: String)
    /// Collects up to `maxDigits` keys into the variable, after playing `sound` (0 = none).
    case recordDigits(variable: String, maxDigits: Int64, sound: Int64)
    case callInteractive(url: String, method: HTTPMethod)
    /// Asks for one key 1…`maxRate` after `sound` (0 = the built-in prompt), stores the rating, then
    /// plays `finishSound`: 0 = the built-in "thank you", as for a queue's finish sound (SPEC
    /// §4.1), nil = none.
    case qualityRate(sound: Int64, maxRate: Int64, finishSound: Int64?)

    /// The `action` names of the API, in the order they are documented.
    public static let names = [
        "play_sound", "hangup", "transfer", "jump_to_context", "set_variable", "record_digits", "call_interactive",
        "quality_rate",
    ]

    public var name: String {
        switch self {
        case .playSound: "play_sound"
        case .hangup: "hangup"
        case .transfer: "transfer"
        case .jumpToContext: "jump_to_context"
        case .setVariable: "set_variable"
        case .recordDigits: "record_digits"
        case .callInteractive: "call_interactive"
        case .qualityRate: "quality_rate"
        }
    }
}

/// Which callers a rule applies to, by caller ID.
public enum CallerIDFilter: Sendable, Equatable {
    case any
    /// Callers who withhold their number.
    case anonymous
    /// The caller ID matches the regular expression.
    case matches(String)
    /// The caller ID does not match the regular expression.
    case notMatches(String)

    public static let actions = ["matches", "not_matches", "anonymous", "any"]

    public var action: String {
        switch self {
        case .any: "any"
        case .anonymous: "anonymous"
        case .matches: "matches"
        case .notMatches: "not_matches"
        }
    }

    public var pattern: String? {
        switch self {
        case .any, .anonymous: nil
        case .matches(let pattern), .notMatches(let pattern): pattern
        }
    }
}

/// What a rule is, apart from where it sits: created and replaced as one value.
public struct IVRRuleDefinition: Sendable, Equatable {
    public var action: IVRAction
    /// nil = any DID (and calls without one); else the DID number, or a regular expression the
    /// whole number must match.
    public var didFilter: String?
    public var callerIDFilter: CallerIDFilter

    public init(action: IVRAction, didFilter: String? = nil, callerIDFilter: CallerIDFilter = .any) {
        self.action = action
        self.didFilter = didFilter
        self.callerIDFilter = callerIDFilter
    }
}

/// One rule of a context option; rules of an option run in `position` order, 1…n.
public struct IVRRule: Sendable, Equatable {
    public var id: Int64
    public var position: Int64
    public var definition: IVRRuleDefinition

    public init(id: Int64, position: Int64, definition: IVRRuleDefinition) {
        self.id = id
        self.position = position
        self.definition = definition
    }
}

/// A whole IVR as the engine runs it: its options, and every context with the ordered rules of
/// each of its options that has rules (an option without rules hangs up).
public struct IVRConfiguration: Sendable, Equatable {
    public struct Context: Sendable, Equatable {
        public var context: IVRContext
        public var rulesByOption: [String: [IVRRule]]

        public init(context: IVRContext, rulesByOption: [String: [IVRRule]]) {
            self.context = context
            self.rulesByOption = rulesByOption
        }
    }

    public var ivrID: Int64
    public var options: IVROptions
    public var contexts: [Context]

    public init(ivrID: Int64, options: IVROptions, contexts: [Context]) {
        self.ivrID = ivrID
        self.options = options
        self.contexts = contexts
    }
}
