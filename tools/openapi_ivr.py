"""Voice menus (SPEC §4.2): the /extension/{extension_id}/ivr/ routes — options, contexts, the options of
a context and their ordered rules — added to the OpenAPI document by tools/gen_openapi.py."""

from openapi_common import INT64_MAX, P, R, error, json_body, json_response, ref, std
OPTION_DIGITS = r"^(start|timeout|invalid|[0-9*#]{1,20})$"
VARIABLE = r"^[A-Za-z_][A-Za-z0-9_]{0,63}$"
ACTIONS = ["play_sound", "hangup", "transfer", "jump_to_context", "set_variable", "record_digits", "call_interactive",
           "quality_rate"]


def extend(paths, components, tags):
    id_schema = {"type": "integer", "format": "int64", "minimum": 1, "maximum": INT64_MAX}
    sound_or_none = {"type": "integer", "format": "int64", "minimum": 0, "maximum": INT64_MAX}

    components["parameters"]["ivr_extension_id"] = {
        "name": "extension_id", "in": "path", "required": True,
        "description": "The id of an extension of type `ivr`. Not a positive integer: 400; unknown, another client's, or an "
                       "extension of another type: 404.",
        "schema": id_schema, "example": 12,
    }
    components["parameters"]["ivr_context_id"] = {
        "name": "context_id", "in": "path", "required": True,
        "description": "A context `id` of this IVR. Not a positive integer: 400; not a context of this IVR: 404.",
        "schema": id_schema, "example": 3,
    }
    components["parameters"]["ivr_option_digits"] = {
        "name": "option_digits", "in": "path", "required": True,
        "description": "The option: `start` (entering the context), `timeout` (no key in time), `invalid` (keys no option "
                       "has), or the keys pressed, 1 to 20 of `0-9`, `*`, `#` (send `#` as `%23`). Anything else: 400.",
        "schema": {"type": "string", "pattern": OPTION_DIGITS}, "example": "1",
    }
    components["parameters"]["ivr_rule_id"] = {
        "name": "rule_id", "in": "path", "required": True,
        "description": "A rule `id` of this option. Not a positive integer: 400; not a rule of this option: 404.",
        "schema": id_schema, "example": 41,
    }

    destination = {"type": "string", "minLength": 1, "maxLength": 64,
                   "description": "A number this client can dial: one of its extension names or DIDs (else 422)."}
    ivr_options_properties = {
        "entry_context": {"type": "integer", "format": "int64", "minimum": 0, "maximum": INT64_MAX,
                          "description": "The context a call enters: a context id of this IVR (else 422), or 0 for none "
                                         "(calls are hung up). The first context created becomes it while it is 0."},
        "lifetime": {"type": "integer", "format": "int64", "minimum": 0, "maximum": 86400,
                     "description": "Seconds after which a call is taken out of the IVR; 0 = no limit."},
        "lifetime_exp_action": {"type": "string", "enum": ["transfer", "hangup"],
                                "description": "What happens when `lifetime` runs out. Default `hangup`."},
        "lifetime_exp_transfer_dst": {**destination, "type": ["string", "null"],
                                      "description": "Where the call goes when `lifetime_exp_action` is `transfer` (then "
                                                     "required, else 422): an extension name or DID of this client."},
        "sleep_time": {"type": "integer", "format": "int64", "minimum": 0, "maximum": 60000,
                       "description": "Milliseconds to wait after answering before the first rule runs, so the greeting "
                                      "is not clipped."},
    }
    components["schemas"]["IVROptions"] = {
        "type": "object",
        "additionalProperties": False,
        "description": "The options of a voice menu. An IVR never changed has the defaults shown in `IVROptionsUpdate`.",
        "required": list(ivr_options_properties),
        "properties": ivr_options_properties,
        "example": {"entry_context": 3, "lifetime": 300, "lifetime_exp_action": "transfer",
                    "lifetime_exp_transfer_dst": "200", "sleep_time": 500},
    }
    components["schemas"]["IVROptionsUpdate"] = {
        "type": "object",
        "additionalProperties": False,
        "description": "Fields left out keep their value (defaults: `entry_context` 0, `lifetime` 0, `lifetime_exp_action` "
                       "`hangup`, `lifetime_exp_transfer_dst` null, `sleep_time` 0). Another field: 400; a value of the "
                       "wrong JSON type: 400; an unacceptable value: 422 naming it.",
        "properties": ivr_options_properties,
        "example": {"lifetime": 300, "lifetime_exp_action": "transfer", "lifetime_exp_transfer_dst": "200"},
    }

    context_properties = {
        "name": {"type": "string", "minLength": 1, "maxLength": 64,
                 "description": "Unique within the IVR (a taken name: 409). Surrounding white space is trimmed; empty, "
                                "longer than 64 characters or with control characters: 422."},
        "timeout": {"type": "integer", "format": "int64", "minimum": 1, "maximum": 600000,
                    "description": "Milliseconds to wait for a key after the last rule before the `timeout` option runs. "
                                   "Default 5000."},
        "inter_digit_timeout": {"type": "integer", "format": "int64", "minimum": 1, "maximum": 600000,
                                "description": "Milliseconds between two keys after which the input is complete. Default 2000."},
        "digit_len": {"type": ["integer", "null"], "format": "int64", "minimum": 1, "maximum": 20,
                      "description": "The input is complete once this many keys were pressed; null = no limit (default)."},
    }
    components["schemas"]["IVRContext"] = {
        "type": "object",
        "additionalProperties": False,
        "description": "A context: a named set of options. Every context has the options `start`, `timeout` and `invalid`.",
        "required": ["id", *context_properties],
        "properties": {"id": {**id_schema, "description": "Used as `entry_context` and as a `jump_to_context` target."},
                       **context_properties},
        "example": {"id": 3, "name": "main", "timeout": 5000, "inter_digit_timeout": 2000, "digit_len": 1},
    }
    components["schemas"]["IVRContextCreate"] = {
        "type": "object",
        "additionalProperties": False,
        "description": "`name` is required (else 422); the others default as described. Another field: 400.",
        "required": ["name"],
        "properties": context_properties,
        "example": {"name": "main", "digit_len": 1},
    }
    components["schemas"]["IVRContextUpdate"] = {
        "type": "object",
        "additionalProperties": False,
        "description": "Fields left out keep their value. Another field: 400.",
        "properties": context_properties,
        "example": {"timeout": 8000},
    }
    components["schemas"]["IVROption"] = {
        "type": "object",
        "additionalProperties": False,
        "required": ["option_digits", "rule_count"],
        "properties": {
            "option_digits": {"type": "string", "pattern": OPTION_DIGITS},
            "rule_count": {"type": "integer", "format": "int64", "minimum": 0,
                           "description": "Rules of the option; an option without rules hangs up."},
        },
    }

    filters_and_parameters = {
        "did": {"type": ["string", "null"], "minLength": 1, "maxLength": 200,
                "description": "Filter: the rule runs only for calls that came in on this DID — the DID number itself, or a "
                               "regular expression the whole number matches (a malformed one: 422). null (default) = any "
                               "call, including internal ones, which have no DID."},
        "caller_id": {"type": ["string", "null"], "minLength": 1, "maxLength": 200,
                      "description": "Filter: a regular expression (ICU syntax, like PCRE for everyday patterns; a malformed "
                                     "one: 422) on the caller's number. Required with `caller_id_action` `matches` or "
                                     "`not_matches`, refused (422) with the others."},
        "caller_id_action": {"type": "string", "enum": ["matches", "not_matches", "anonymous", "any"],
                             "description": "Filter: `matches` / `not_matches` `caller_id`, `anonymous` = callers who "
                                            "withhold their number, `any` (default) = every caller."},
        "sound": {**sound_or_none, "description": "`play_sound`: the sound to play (required, a sound id of this client). "
                                                  "`quality_rate`: the prompt, 0 (default) = the built-in rating prompt. "
                                                  "A sound that is not this client's: 422."},
        "sound_type": {"type": "string", "enum": ["foreground", "background"],
                       "description": "`play_sound`: `foreground` (default) plays to the end before keys count; "
                                      "`background` takes keys while it plays."},
        "transfer_dst": {**destination, "description": "`transfer` (required): an extension name or DID of this client."},
        "context": {**id_schema, "description": "`jump_to_context` (required): a context id of this IVR (else 422)."},
        "context_option": {"type": "string", "pattern": OPTION_DIGITS,
                           "description": "`jump_to_context`: the option to continue with; default `start`."},
        "set_variable_name": {"type": "string", "pattern": VARIABLE, "description": "`set_variable` (required)."},
        "set_variable_value": {"type": "string", "maxLength": 1000, "description": "`set_variable`; default empty."},
        "record_digits_variable": {"type": "string", "pattern": VARIABLE,
                                   "description": "`record_digits` (required): the variable that receives the keys."},
        "record_digits_max": {"type": "integer", "format": "int64", "minimum": 1, "maximum": 20,
                              "description": "`record_digits`: at most this many keys; default 20."},
        "record_digits_sound": {**sound_or_none, "description": "`record_digits`: played first; 0 (default) = none."},
        "call_interactive_url": {"type": "string", "format": "uri", "maxLength": 2000,
                                 "description": "`call_interactive` (required): an `http` or `https` URL with a host."},
        "call_interactive_method": {"type": "string", "enum": ["GET", "POST"],
                                    "description": "`call_interactive`: default `POST`."},
        "max_rate": {"type": "integer", "format": "int64", "minimum": 1, "maximum": 9,
                     "description": "`quality_rate` (required): the highest key the caller may press, 1…9; stored as the "
                                    "rating's `max_rate`."},
        "finish_sound": {**sound_or_none, "type": ["integer", "null"],
                         "description": "`quality_rate`: played after the rating is stored, before the next rule; 0 "
                                        "(default) = the built-in \"Thank you for your rating. Goodbye.\", as a queue's "
                                        "`quality_rate_finish_sound`; null = none."},
    }
    action_schema = {"type": "string", "enum": ACTIONS,
                     "description": "What the rule does. Each action takes only its own parameters: `play_sound` "
                                    "(`sound`, `sound_type`), `hangup`, `transfer` (`transfer_dst`), `jump_to_context` "
                                    "(`context`, `context_option`), `set_variable` (`set_variable_name`, "
                                    "`set_variable_value`), `record_digits` (`record_digits_variable`, `record_digits_max`, "
                                    "`record_digits_sound`), `call_interactive` (`call_interactive_url`, "
                                    "`call_interactive_method`), `quality_rate` (`sound`, `max_rate`, `finish_sound`). An "
                                    "unknown action or another action's parameter: 400."}
    position = {"type": "integer", "format": "int64", "minimum": 1, "maximum": INT64_MAX,
                "description": "Order within the option, 1…n; the other rules are renumbered so positions stay 1…n. "
                               "Outside 1…n (1…n+1 when adding): 422."}
    components["schemas"]["IVRRule"] = {
        "type": "object",
        "additionalProperties": False,
        "description": "A rule: `id`, `position`, `action`, the filters `did`, `caller_id`, `caller_id_action` (always "
                       "present), and the parameters of its action (only those, with their defaults filled in).",
        "required": ["id", "position", "action", "did", "caller_id", "caller_id_action"],
        "properties": {"id": id_schema, "position": position, "action": action_schema,
                       **filters_and_parameters},
        "example": {"id": 41, "position": 2, "action": "quality_rate", "did": None, "caller_id": None,
                    "caller_id_action": "any", "sound": 0, "max_rate": 5, "finish_sound": 0},
    }
    components["schemas"]["IVRRuleCreate"] = {
        "type": "object",
        "additionalProperties": False,
        "description": "`action` (required, else 400) with the parameters it requires; a parameter of another action or "
                       "any other field: 400; a value the server cannot use (a sound, destination or context that does not "
                       "exist or is another client's, `max_rate` outside 1…9, a malformed regular expression): 422 naming "
                       "the field. `position` defaults to last.",
        "required": ["action"],
        "properties": {"action": action_schema, "position": position, **filters_and_parameters},
        "example": {"action": "quality_rate", "max_rate": 5, "finish_sound": 0},
    }
    components["schemas"]["IVRRuleUpdate"] = {
        "type": "object",
        "additionalProperties": False,
        "description": "Fields left out keep their value, except that a new `action` starts from that action's defaults "
                       "(the old action's parameters are dropped) and a new `caller_id_action` drops the old `caller_id`. "
                       "The result is checked like a new rule.",
        "properties": {"action": action_schema, "position": position, **filters_and_parameters},
        "example": {"position": 1},
    }
    components["responses"].setdefault("Conflict", error(
        "conflict", "The change clashes with what is stored; the description says with what.", "name: already taken"))

    read = ("400", "401", "404", "500")
    write = ("400", "401", "403", "404", "413", "415", "422", "500")
    tag = ["Voice menus"]
    base = "/api/ver1.0/extension/{extension_id}/ivr/"
    context = base + "context/{context_id}"
    rules = context + "/options/{option_digits}/rules/"
    write_note = " Needs an application with `all` access (a `call_api` token answers 403)."

    paths[base] = {
        "parameters": [P("ivr_extension_id")],
        "get": {
            "operationId": "getIVROptions", "tags": tag, "summary": "Get a voice menu's options",
            "description": "The options of an extension of type `ivr` (create it with the extension API). An IVR whose "
                           "options were never changed answers the defaults.",
            "responses": {"200": json_response("The options.", ref("IVROptions")), **std(*read)},
        },
        "put": {
            "operationId": "updateIVROptions", "tags": tag, "summary": "Change a voice menu's options",
            "description": "JSON body; fields left out keep their value." + write_note,
            "requestBody": json_body("IVROptionsUpdate"),
            "responses": {"200": json_response("The options after the change.", ref("IVROptions")), **std(*write)},
        },
    }
    paths[base + "context/"] = {
        "parameters": [P("ivr_extension_id")],
        "get": {
            "operationId": "listIVRContexts", "tags": tag, "summary": "List a voice menu's contexts",
            "description": "In `id` order.",
            "responses": {"200": json_response("The contexts (an empty array when there are none).",
                                               {"type": "array", "items": ref("IVRContext")}), **std(*read)},
        },
        "post": {
            "operationId": "createIVRContext", "tags": tag, "summary": "Create a context",
            "description": "The IVR's first context becomes its `entry_context` while that is 0. A name the IVR already "
                           "has: 409." + write_note,
            "requestBody": json_body("IVRContextCreate"),
            "responses": {"201": json_response("The new context.", ref("IVRContext")), **std(*write, "409")},
        },
    }
    paths[context] = {
        "parameters": [P("ivr_extension_id"), P("ivr_context_id")],
        "get": {
            "operationId": "getIVRContext", "tags": tag, "summary": "Get a context",
            "responses": {"200": json_response("The context.", ref("IVRContext")), **std(*read)},
        },
        "put": {
            "operationId": "updateIVRContext", "tags": tag, "summary": "Change a context",
            "description": "Fields left out keep their value; a name the IVR already has: 409." + write_note,
            "requestBody": json_body("IVRContextUpdate"),
            "responses": {"200": json_response("The context after the change.", ref("IVRContext")), **std(*write, "409")},
        },
        "delete": {
            "operationId": "deleteIVRContext", "tags": tag, "summary": "Delete a context with its rules",
            "description": "Refused with 409, saying why, while it is the IVR's `entry_context` or a `jump_to_context` rule "
                           "of another context targets it: change those first." + write_note,
            "responses": {"204": {"description": "Deleted."}, **std("400", "401", "403", "404", "409", "500")},
        },
    }
    paths[context + "/options/"] = {
        "parameters": [P("ivr_extension_id"), P("ivr_context_id")],
        "get": {
            "operationId": "listIVROptions", "tags": tag, "summary": "List a context's options",
            "description": "`start`, `timeout` and `invalid` (always, in that order), then every option that has rules, in "
                           "text order, each with its number of rules.",
            "responses": {"200": json_response("The options.", {"type": "array", "items": ref("IVROption")},
                                               [{"option_digits": "start", "rule_count": 2},
                                                {"option_digits": "timeout", "rule_count": 0},
                                                {"option_digits": "invalid", "rule_count": 0},
                                                {"option_digits": "1", "rule_count": 1}]),
                          **std(*read)},
        },
    }
    paths[rules] = {
        "parameters": [P("ivr_extension_id"), P("ivr_context_id"), P("ivr_option_digits")],
        "get": {
            "operationId": "listIVRRules", "tags": tag, "summary": "List an option's rules",
            "description": "In `position` order, the order a call runs them in. An option without rules answers an empty "
                           "array (and hangs up).",
            "responses": {"200": json_response("The rules.", {"type": "array", "items": ref("IVRRule")}), **std(*read)},
        },
        "post": {
            "operationId": "createIVRRule", "tags": tag, "summary": "Add a rule",
            "description": "At `position` (default: last); the rules from there move down one." + write_note,
            "requestBody": json_body("IVRRuleCreate"),
            "responses": {"201": json_response("The new rule with its `id`.", ref("IVRRule")), **std(*write)},
        },
    }
    paths[rules + "{rule_id}"] = {
        "parameters": [P("ivr_extension_id"), P("ivr_context_id"), P("ivr_option_digits"), P("ivr_rule_id")],
        "get": {
            "operationId": "getIVRRule", "tags": tag, "summary": "Get a rule",
            "responses": {"200": json_response("The rule.", ref("IVRRule")), **std(*read)},
        },
        "put": {
            "operationId": "updateIVRRule", "tags": tag, "summary": "Change or move a rule",
            "description": "Fields left out keep their value (see `IVRRuleUpdate`); a new `position` renumbers the others "
                           "so positions stay 1…n." + write_note,
            "requestBody": json_body("IVRRuleUpdate"),
            "responses": {"200": json_response("The rule after the change.", ref("IVRRule")), **std(*write)},
        },
        "delete": {
            "operationId": "deleteIVRRule", "tags": tag, "summary": "Delete a rule",
            "description": "The rules after it move up one." + write_note,
            "responses": {"204": {"description": "Deleted."}, **std("400", "401", "403", "404", "500")},
        },
    }
    tags.append({"name": "Voice menus", "description": "IVR options, contexts, options and their ordered rules."})
