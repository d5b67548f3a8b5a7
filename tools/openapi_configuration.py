"""Extensions, DIDs, queue options and queue agents (SPEC §1, §4, §4.1): the /client/{client_id}/extension/,
/client/{client_id}/did/ and /extension/{extension_id}/queue/ routes, added to the OpenAPI document by
tools/gen_openapi.py."""

from openapi_common import INT64_MAX, P, R, error, json_body, json_response, ref, std
DT_RESPONSE = r"^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}$"
EXTENSION_NAME = r"^[0-9]{1,15}$"
DID_NUMBER_IN = r"^\+?[0-9]{3,20}$"
DID_NUMBER_OUT = r"^[0-9]{3,20}$"
PASSWORD = r"^[!-~]{8,64}$"
DESTINATION = r"^\+?[0-9]{1,20}$"
STRATEGIES = ["ring-all", "round-robin", "top-down", "random", "longest-idle-agent"]


def extend(paths, components, tags):
    id_schema = {"type": "integer", "format": "int64", "minimum": 1, "maximum": INT64_MAX}
    sound = {"type": "integer", "format": "int64", "minimum": 0, "maximum": INT64_MAX}
    seconds = {"type": "integer", "format": "int64", "minimum": 0, "maximum": 86400}

    components["responses"].setdefault("Conflict", error(
        "conflict", "The change clashes with what is stored; the description says with what.", "name: already taken"))
    read = ("400", "401", "404", "500")
    write = ("400", "401", "403", "404", "413", "415", "422", "500")
    delete = ("400", "401", "403", "404", "500")
    write_note = " Needs an application with `all` access (a `call_api` token answers 403)."
    deleted = {"description": "Deleted; no body."}

    # Parameters

    components["parameters"]["extension_resource_id"] = {
        "name": "id", "in": "path", "required": True,
        "description": "The extension's `id`. Not a positive integer: 400; unknown or another client's: 404.",
        "schema": id_schema, "example": 10,
    }
    components["parameters"]["did_id"] = {
        "name": "id", "in": "path", "required": True,
        "description": "The DID's `id`. Not a positive integer: 400; unknown or another client's: 404.",
        "schema": id_schema, "example": 3,
    }
    components["parameters"]["queue_extension_id"] = {
        "name": "extension_id", "in": "path", "required": True,
        "description": "The id of an extension of type `queue`. Not a positive integer: 400; unknown, another client's, or "
                       "an extension of another type: 404.",
        "schema": id_schema, "example": 11,
    }
    components["parameters"]["agent_extension_id"] = {
        "name": "agent_extension_id", "in": "path", "required": True,
        "description": "The phone extension's id. Not a positive integer: 400; not an agent of this queue: 404.",
        "schema": id_schema, "example": 12,
    }

    # Extensions

    name_description = ("The number dialled inside the client: 1 to 15 digits, leading zeros kept (`099`). Unique in the "
                        "client (else 409). Cannot change after creation.")
    label = {"type": "string", "maxLength": 200, "description": "A display name, at most 200 characters, no control characters."}
    status = {"type": "string", "enum": ["active", "disabled"],
              "description": "`disabled` keeps the configuration but takes no calls."}
    password = {"type": "string", "writeOnly": True, "minLength": 8, "maxLength": 64, "pattern": PASSWORD,
                "description": "Phones only (else 422): the SIP digest password the phone registers with as "
                               "`name@domain`, 8 to 64 printable ASCII characters without spaces. Write-only: only its "
                               "digest hashes (HA1, MD5 and SHA-256) are stored, and it is never returned."}
    components["schemas"]["Extension"] = {
        "type": "object",
        "additionalProperties": False,
        "description": "An internal number of the client. A phone's `password` is never returned.",
        "required": ["id", "client_id", "name", "type", "label", "status", "domain", "create_date"],
        "properties": {
            "id": {**id_schema, "description": "Used as `extension_id` everywhere (ratings, DIDs, queue and IVR routes)."},
            "client_id": id_schema,
            "name": {"type": "string", "pattern": EXTENSION_NAME, "description": name_description},
            "type": {"type": "string", "enum": ["phone", "queue", "ivr"]},
            "label": label,
            "status": status,
            "domain": {"type": "string", "description": "The client's SIP domain; a phone registers as `name@domain`."},
            "create_date": {"type": "string", "pattern": DT_RESPONSE, "description": "When it was created, client's time zone."},
        },
        "example": {"id": 10, "client_id": 1, "name": "101", "type": "phone", "label": "Anna", "status": "active",
                    "domain": "acme.example", "create_date": "2024-05-07 12:21:10"},
    }
    components["schemas"]["ExtensionCreate"] = {
        "type": "object",
        "additionalProperties": False,
        "description": "A missing `name` or `type`, or a phone without `password`: 422. Any other field: 400. Creating a "
                       "`queue` creates its options with their defaults.",
        "required": ["name", "type"],
        "properties": {
            "name": {"type": "string", "pattern": EXTENSION_NAME, "description": name_description},
            "type": {"type": "string", "enum": ["phone", "queue", "ivr"], "description": "Cannot change after creation."},
            "label": {**label, "default": ""},
            "status": {**status, "default": "active"},
            "password": {**password, "description": password["description"] + " Required for a phone."},
        },
        "example": {"name": "101", "type": "phone", "label": "Anna", "password": "correct-horse-7"},
    }
    components["schemas"]["ExtensionUpdate"] = {
        "type": "object",
        "additionalProperties": False,
        "description": "Only the fields given change. `name` and `type` may be sent only with their current value (else "
                       "422). Any other field: 400.",
        "properties": {
            "name": {"type": "string", "pattern": EXTENSION_NAME, "description": "The current name (it cannot change)."},
            "type": {"type": "string", "enum": ["phone", "queue", "ivr"], "description": "The current type (it cannot change)."},
            "label": label,
            "status": status,
            "password": {**password, "description": password["description"] + " Sets a new password."},
        },
        "example": {"label": "Anna K.", "password": "battery-staple-9"},
    }

    # DIDs

    components["schemas"]["DID"] = {
        "type": "object",
        "additionalProperties": False,
        "description": "An external number of the client and the extension its calls go to.",
        "required": ["id", "client_id", "name", "extension_id", "comment", "create_date"],
        "properties": {
            "id": id_schema,
            "client_id": id_schema,
            "name": {"type": "string", "pattern": DID_NUMBER_OUT,
                     "description": "The number, digits only (a leading `+` sent on creation is not kept)."},
            "extension_id": {"type": ["integer", "null"], "format": "int64", "minimum": 1, "maximum": INT64_MAX,
                             "description": "The extension (phone, queue or IVR) calls to this number go to; null = unassigned."},
            "comment": {"type": "string", "maxLength": 500},
            "create_date": {"type": "string", "pattern": DT_RESPONSE, "description": "When it was created, client's time zone."},
        },
        "example": {"id": 3, "client_id": 1, "name": "4930555123", "extension_id": 11, "comment": "main line",
                    "create_date": "2024-05-07 12:21:10"},
    }
    extension_id = {"type": ["integer", "null"], "format": "int64", "minimum": 1, "maximum": INT64_MAX,
                    "description": "An extension of this client (else 422), or null for unassigned."}
    comment = {"type": "string", "maxLength": 500, "description": "Free text, at most 500 characters."}
    components["schemas"]["DIDCreate"] = {
        "type": "object",
        "additionalProperties": False,
        "description": "A missing `name`: 422. Any other field: 400.",
        "required": ["name"],
        "properties": {
            "name": {"type": "string", "pattern": DID_NUMBER_IN,
                     "description": "The external number: 3 to 20 digits, optionally after one `+`, which is not kept (so "
                                    "`+4930555123` and `4930555123` are the same number). Unique across all clients: a "
                                    "number already taken answers 409. Cannot change after creation."},
            "extension_id": {**extension_id, "default": None},
            "comment": {**comment, "default": ""},
        },
        "example": {"name": "+4930555123", "extension_id": 11, "comment": "main line"},
    }
    components["schemas"]["DIDUpdate"] = {
        "type": "object",
        "additionalProperties": False,
        "description": "Only the fields given change. `name` may be sent only with its current number (else 422). Any "
                       "other field: 400.",
        "properties": {
            "name": {"type": "string", "pattern": DID_NUMBER_IN, "description": "The current number (it cannot change)."},
            "extension_id": extension_id,
            "comment": comment,
        },
        "example": {"extension_id": 12},
    }

    # Queues

    def destination(what):
        return {"type": ["string", "null"], "pattern": DESTINATION,
                "description": what + " A number this client can dial: one of its extension names or DIDs (else 422), "
                               "not the queue itself; null = none."}

    queue_properties = {
        "agent_hangup_action": {"type": ["string", "null"], "enum": ["quality_rate", "transfer", None],
                                "description": "When the agent hangs up first: `quality_rate` asks the caller for a rating "
                                               "of that agent, `transfer` sends the caller to `agent_hangup_transfer_dst`, "
                                               "null ends the call."},
        "agent_hangup_transfer_dst": destination("Where the caller goes when the agent hangs up first and "
                                                 "`agent_hangup_action` is `transfer` (then required, else 422)."),
        "quality_rate_sound": {**sound, "description": "The rating prompt: a sound id of this client (else 422), or 0 for "
                                                       "the built-in prompt."},
        "quality_rate_finish_sound": {**sound, "description": "Played after the rating is stored: a sound id of this "
                                                              "client, or 0 for the built-in \"thank you\"."},
        "quality_rate_max": {"type": "integer", "format": "int64", "minimum": 1, "maximum": 9,
                             "description": "The highest key a caller may press, 1 to 9 (else 422)."},
        "strategy": {"type": "string", "enum": STRATEGIES,
                     "description": "Which agents ring: all at once, in turn after the last one who answered, always "
                                    "in `position` order, in random order, or the one idle longest first."},
        "max_wait_time": {**seconds, "description": "Seconds a caller may wait, 0 = no limit, at most 86400."},
        "announce_sound": {**sound, "description": "Played to waiting callers: a sound id of this client, or 0 for none."},
        "announce_frequency": {**seconds, "description": "Seconds between announcements, 0 = played once, at most 86400."},
        "exit_with_no_av_agents": {"type": "boolean",
                                   "description": "true: a caller arriving while no agent is available is not queued "
                                                  "(sent to `no_agent_timeout_transfer_dst`, or hung up)."},
        "no_agent_timeout_transfer_dst": destination("Where a caller goes when no agent is available or `max_wait_time` "
                                                     "runs out."),
        "ring_timeout": {"type": "integer", "format": "int64", "minimum": 5, "maximum": 600,
                         "description": "Ours. Seconds one attempt rings its agents (ring-all: all of them; the other "
                                        "strategies: one) before the next attempt, 5 to 600, default 20. An agent who "
                                        "refuses (busy, do-not-disturb) ends the attempt at once."},
        "retry_delay": {"type": "integer", "format": "int64", "minimum": 1, "maximum": 600,
                        "description": "Ours. Seconds a caller waits after every available agent was tried once, before "
                                       "they are rung again, 1 to 600, default 5 (Asterisk's `retry`): an agent is rung at "
                                       "most once a round."},
    }
    components["schemas"]["QueueOptions"] = {
        "type": "object",
        "additionalProperties": False,
        "description": "The options of a queue (SPEC §4.1).",
        "required": list(queue_properties),
        "properties": queue_properties,
        "example": {"agent_hangup_action": "quality_rate", "agent_hangup_transfer_dst": None, "quality_rate_sound": 0,
                    "quality_rate_finish_sound": 0, "quality_rate_max": 5, "strategy": "round-robin", "max_wait_time": 0,
                    "announce_sound": 0, "announce_frequency": 0, "exit_with_no_av_agents": True,
                    "no_agent_timeout_transfer_dst": None, "ring_timeout": 20, "retry_delay": 5},
    }
    components["schemas"]["QueueOptionsUpdate"] = {
        "type": "object",
        "additionalProperties": False,
        "description": "Only the fields given change; every field is checked before anything is written, so a refused "
                       "change changes nothing. A field of the wrong JSON type or an unknown field: 400.",
        "properties": queue_properties,
        "example": {"agent_hangup_action": "quality_rate", "quality_rate_max": 9, "quality_rate_sound": 7},
    }
    components["schemas"]["QueueAgent"] = {
        "type": "object",
        "additionalProperties": False,
        "description": "A phone extension the queue rings.",
        "required": ["extension_id", "name", "label", "position"],
        "properties": {
            "extension_id": {**id_schema, "description": "The phone extension's id."},
            "name": {"type": "string", "pattern": EXTENSION_NAME,
                     "description": "The phone's extension name: how the agent appears in ratings (`agent_username`) and "
                                    "call history (`bridged_username`)."},
            "label": {"type": "string"},
            "position": {**id_schema, "description": "1 to n in the order agents were added; `top-down` rings in this order. "
                                                     "Removing an agent moves the ones after it up."},
        },
        "example": {"extension_id": 12, "name": "101", "label": "Anna", "position": 1},
    }
    components["schemas"]["QueueAgentAdd"] = {
        "type": "object",
        "additionalProperties": False,
        "required": ["extension_id"],
        "properties": {"extension_id": {**id_schema, "description": "A phone extension of this client (else 422)."}},
        "example": {"extension_id": 12},
    }

    # Paths

    ext_tag, did_tag, queue_tag = ["Extensions"], ["DIDs"], ["Queues"]
    extensions = "/api/ver1.0/client/{client_id}/extension/"
    paths[extensions] = {
        "parameters": [P("client_id")],
        "get": {
            "operationId": "listExtensions", "tags": ext_tag, "summary": "List extensions",
            "description": "Every extension of the client, in `id` order.",
            "responses": {"200": json_response("The extensions (an empty array when there are none).",
                                               {"type": "array", "items": ref("Extension")}), **std(*read)},
        },
        "post": {
            "operationId": "createExtension", "tags": ext_tag, "summary": "Create an extension",
            "description": "A phone needs a `password`; a queue gets its options with their defaults. A `name` the client "
                           "already has: 409." + write_note,
            "requestBody": json_body("ExtensionCreate"),
            "responses": {"201": json_response("The new extension.", ref("Extension")), **std(*write, "409")},
        },
    }
    paths[extensions + "{id}"] = {
        "parameters": [P("client_id"), P("extension_resource_id")],
        "get": {
            "operationId": "getExtension", "tags": ext_tag, "summary": "Get an extension",
            "responses": {"200": json_response("The extension.", ref("Extension")), **std(*read)},
        },
        "put": {
            "operationId": "updateExtension", "tags": ext_tag, "summary": "Change an extension's label, status or password",
            "description": "JSON body; fields left out keep their value." + write_note,
            "requestBody": json_body("ExtensionUpdate"),
            "responses": {"200": json_response("The extension after the change.", ref("Extension")), **std(*write)},
        },
        "delete": {
            "operationId": "deleteExtension", "tags": ext_tag, "summary": "Delete an extension",
            "description": "Refused with 409, saying what uses it, while a DID points at it, it is an agent of a queue, or a "
                           "queue transfers to it. A queue goes with its options and agents. Ratings and call history "
                           "stay." + write_note,
            "responses": {"204": deleted, **std(*delete, "409")},
        },
    }
    dids = "/api/ver1.0/client/{client_id}/did/"
    paths[dids] = {
        "parameters": [P("client_id")],
        "get": {
            "operationId": "listDIDs", "tags": did_tag, "summary": "List DIDs",
            "description": "Every external number of the client, in `id` order.",
            "responses": {"200": json_response("The DIDs (an empty array when there are none).",
                                               {"type": "array", "items": ref("DID")}), **std(*read)},
        },
        "post": {
            "operationId": "createDID", "tags": did_tag, "summary": "Add a DID",
            "description": "A number any client already has: 409." + write_note,
            "requestBody": json_body("DIDCreate"),
            "responses": {"201": json_response("The new DID.", ref("DID")), **std(*write, "409")},
        },
    }
    paths[dids + "{id}"] = {
        "parameters": [P("client_id"), P("did_id")],
        "get": {
            "operationId": "getDID", "tags": did_tag, "summary": "Get a DID",
            "responses": {"200": json_response("The DID.", ref("DID")), **std(*read)},
        },
        "put": {
            "operationId": "updateDID", "tags": did_tag, "summary": "Change where a DID goes, or its comment",
            "description": "JSON body; fields left out keep their value." + write_note,
            "requestBody": json_body("DIDUpdate"),
            "responses": {"200": json_response("The DID after the change.", ref("DID")), **std(*write)},
        },
        "delete": {
            "operationId": "deleteDID", "tags": did_tag, "summary": "Delete a DID",
            "description": "Refused with 409 while a queue transfers to the number." + write_note,
            "responses": {"204": deleted, **std(*delete, "409")},
        },
    }
    queue = "/api/ver1.0/extension/{extension_id}/queue/"
    paths[queue] = {
        "parameters": [P("queue_extension_id")],
        "get": {
            "operationId": "getQueueOptions", "tags": queue_tag, "summary": "Get a queue's options",
            "description": "The options of an extension of type `queue` (create it with the extension API).",
            "responses": {"200": json_response("The options.", ref("QueueOptions")), **std(*read)},
        },
        "put": {
            "operationId": "updateQueueOptions", "tags": queue_tag, "summary": "Change a queue's options",
            "description": "JSON body; fields left out keep their value." + write_note,
            "requestBody": json_body("QueueOptionsUpdate"),
            "responses": {"200": json_response("The options after the change.", ref("QueueOptions")), **std(*write)},
        },
    }
    paths[queue + "agent/"] = {
        "parameters": [P("queue_extension_id")],
        "get": {
            "operationId": "listQueueAgents", "tags": queue_tag, "summary": "List a queue's agents",
            "description": "In ring order (`position`).",
            "responses": {"200": json_response("The agents (an empty array when there are none).",
                                               {"type": "array", "items": ref("QueueAgent")}), **std(*read)},
        },
        "post": {
            "operationId": "addQueueAgent", "tags": queue_tag, "summary": "Add an agent",
            "description": "Adds a phone extension of this client last in the ring order. Already an agent: 409." + write_note,
            "requestBody": json_body("QueueAgentAdd"),
            "responses": {"201": json_response("The agent as added.", ref("QueueAgent")), **std(*write, "409")},
        },
    }
    paths[queue + "agent/{agent_extension_id}"] = {
        "parameters": [P("queue_extension_id"), P("agent_extension_id")],
        "delete": {
            "operationId": "removeQueueAgent", "tags": queue_tag, "summary": "Remove an agent",
            "description": "The agents after it move up one position." + write_note,
            "responses": {"204": deleted, **std(*delete)},
        },
    }

    tags.append({"name": "Extensions", "description": "Internal numbers: phones (with their SIP password), queues and voice menus."})
    tags.append({"name": "DIDs", "description": "External numbers and the extension each one rings."})
    tags.append({"name": "Queues", "description": "Queue options (SPEC §4.1) and agents."})
