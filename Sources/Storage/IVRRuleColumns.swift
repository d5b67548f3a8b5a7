package import Domain

/// A rule's definition as the action and filter columns of its `ivr_rule` row (IVRSchema.swift),
/// named like them. Both stores write and read rules through it (issue 12), so a definition is
/// the same row on SQLite and on PostgreSQL and reads back the same.
///
/// Only the parameters of the rule's action are set, every other one is nil: a replaced rule
/// keeps nothing of its previous action.
package struct IVRRuleColumns {
    package var action: String
    package var did: String?
    package var callerID: String?
    package var callerIDAction: String
    package var sound: Int64?
    package var soundType: String?
    package var transferDestination: String?
    package var context: Int64?
    package var contextOption: String?
    package var setVariableName: String?
    package var setVariableValue: String?
    package var recordDigitsVariable: String?
    package var recordDigitsMax: Int64?
    package var recordDigitsSound: Int64?
    package var callInteractiveURL: String?
    package var callInteractiveMethod: String?
    package var maxRate: Int64?
    package var finishSound: Int64?

    /// The columns as read from a row, in the table's column order.
    package init(
        action: String, did: String?, callerID: String?, callerIDAction: String, sound: Int64?, soundType: String?,
        transferDestination: String?, context: Int64?, contextOption: String?, setVariableName: String?,
        setVariableValue: String?, recordDigitsVariable: String?, recordDigitsMax: Int64?, recordDigitsSound: Int64?,
        callInteractiveURL: String?, callInteractiveMethod: String?, maxRate: Int64?, finishSound: Int64?
    ) {
        self.action = action
        self.did = did
        self.callerID = callerID
        self.callerIDAction = callerIDAction
        self.sound = sound
        self.soundType = soundType
        self.transferDestination = transferDestination
        self.context = context
        self.contextOption = contextOption
        self.setVariableName = setVariableName
        self.setVariableValue = setVariableValue
        self.recordDigitsVariable = recordDigitsVariable
        self.recordDigitsMax = recordDigitsMax
        self.recordDigitsSound = recordDigitsSound
        self.callInteractiveURL = callInteractiveURL
        self.callInteractiveMethod = callInteractiveMethod
        self.maxRate = maxRate
        self.finishSound = finishSound
    }

    /// The columns that store `definition`.
    package init(_ definition: IVRRuleDefinition) {
        self.init(
            action: definition.action.name, did: definition.didFilter, callerID: definition.callerIDFilter.pattern,
            callerIDAction: definition.callerIDFilter.action, sound: nil, soundType: nil, transferDestination: nil,
            context: nil, contextOption: nil, setVariableName: nil, setVariableValue: nil, recordDigitsVariable: nil,
            recordDigitsMax: nil, recordDigitsSound: nil, callInteractiveURL: nil, callInteractiveMethod: nil,
            maxRate: nil, finishSound: nil)
        switch definition.action {
        case .playSound(let sound, let type):
            self.sound = sound
            soundType = type.rawValue
        case .hangup:
            break
        case .transfer(let destination):
            transferDestination = destination
        case .jumpToContext(let contextID, let option):
            context = contextID
            contextOption = option
        case .setVariable(let name, let value):
            setVariableName = name
            setVariableValue = value
        case .recordDigits(let variable, let maxDigits, let sound):
            recordDigitsVariable = variable
            recordDigitsMax = maxDigits
            recordDigitsSound = sound
        case .callInteractive(let url, let method):
            callInteractiveURL = url
            callInteractiveMethod = method.rawValue
        case .qualityRate(let sound, let maxRate, let finishSound):
            self.sound = sound
            self.maxRate = maxRate
            // NULL = no finish sound (SQLite's migration 6-rule-finish-sound).
            self.finishSound = finishSound
        }
    }

    /// The definition the columns store; nil for a row this version cannot read (an action or
    /// value written by a newer version).
    package var definition: IVRRuleDefinition? {
        guard let action = storedAction else { return nil }
        let callerIDFilter: CallerIDFilter
        switch (callerIDAction, callerID) {
        case ("any", _): callerIDFilter = .any
        case ("anonymous", _): callerIDFilter = .anonymous
        case ("matches", let pattern?): callerIDFilter = .matches(pattern)
        case ("not_matches", let pattern?): callerIDFilter = .notMatches(pattern)
        default: return nil
        }
        return IVRRuleDefinition(action: action, didFilter: did, callerIDFilter: callerIDFilter)
    }

    private var storedAction: IVRAction? {
        switch action {
        case "play_sound":
            guard let sound, let type = IVRAction.SoundType(rawValue: soundType ?? "") else { return nil }
            return .playSound(sound: sound, type: type)
        case "hangup":
            return .hangup
        case "transfer":
            return transferDestination.map { .transfer(destination: $0) }
        case "jump_to_context":
            guard let context, let contextOption else { return nil }
            return .jumpToContext(contextID: context, option: contextOption)
        case "set_variable":
            guard let setVariableName, let setVariableValue else { return nil }
            return .setVariable(name: setVariableName, value: setVariableValue)
        case "record_digits":
            guard let recordDigitsVariable, let recordDigitsMax, let recordDigitsSound else { return nil }
            return .recordDigits(variable: recordDigitsVariable, maxDigits: recordDigitsMax, sound: recordDigitsSound)
        case "call_interactive":
            guard let callInteractiveURL, let method = IVRAction.HTTPMethod(rawValue: callInteractiveMethod ?? "") else {
                return nil
            }
            return .callInteractive(url: callInteractiveURL, method: method)
        case "quality_rate":
            guard let sound, let maxRate else { return nil }
            return .qualityRate(sound: sound, maxRate: maxRate, finishSound: finishSound)
        default:
            return nil
        }
    }
}
