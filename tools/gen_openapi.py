"""The source of QualityRate's OpenAPI document.

Edit the document here, then regenerate the JSON file that the server embeds (a SwiftPM resource):

    python3 tools/gen_openapi.py            # writes Sources/HTTPAPI/Resources/openapi.json
    python3 tools/gen_openapi.py --check    # fails when that file is not up to date (run by scripts/test)
"""
import json

INT64_MAX = 9223372036854775807
DT_RESPONSE = r"^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}$"
DT_QUERY = r"^[0-9]{4}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01]) ([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9]$"
UUID = r"^[0-9A-F]{32}$"

def ref(name, kind="schemas"):
    return {"$ref": f"#/components/{kind}/{name}"}

def err(code, desc, example_desc):
    return {
        "description": desc,
        "content": {"application/json": {
            "schema": {"allOf": [ref("Error"), {"properties": {"error": {"const": code}}}]},
            "example": {"error": code, "error_description": example_desc},
        }},
    }

id_schema = {"type": "integer", "format": "int64", "minimum": 1, "maximum": INT64_MAX}

components = {
    "securitySchemes": {
        "bearerAuth": {
            "type": "http", "scheme": "bearer",
            "description": "An access token from `POST /oauth/token`, sent as `Authorization: Bearer <access_token>`. "
                           "A missing, unknown or expired token answers 401 `invalid_token`; get a new token then.",
        }
    },
    "parameters": {
        "client_id": {
            "name": "client_id", "in": "path", "required": True,
            "description": "Your client's (tenant's) id, as returned by `qualityrate setup`. A token reaches only its own "
                           "client: any other id answers 404. Not a positive integer: 400.",
            "schema": id_schema, "example": 1,
        },
        "rating_id": {
            "name": "id", "in": "path", "required": True,
            "description": "The rating's `id`. Not a positive integer: 400; unknown or another client's: 404.",
            "schema": id_schema, "example": 1,
        },
        "call_uuid": {
            "name": "call_uuid", "in": "path", "required": True,
            "description": "The call's `call_uuid`: exactly 32 upper-case hexadecimal digits, no dashes (anything else: 400). "
                           "Unknown or another client's: 404.",
            "schema": {"type": "string", "pattern": UUID}, "example": "BF4643A0B90D11E98DA84B40F3DF0459",
        },
        "start_datetime": {
            "name": "start_datetime", "in": "query", "required": False,
            "description": "Earliest time to include, `YYYY-MM-DD HH:MM:SS` in the **client's time zone** (see `GET /client/{client_id}/`). "
                           "Inclusive. Omitted: no lower bound. Not a valid date and time: 400.",
            "schema": {"type": "string", "pattern": DT_QUERY}, "example": "2024-05-01 00:00:00",
        },
        "end_datetime": {
            "name": "end_datetime", "in": "query", "required": False,
            "description": "Latest time to include, `YYYY-MM-DD HH:MM:SS` in the client's time zone. Inclusive "
                           "(`2024-05-31 23:59:59` covers the whole of 31 May). Omitted: no upper bound.",
            "schema": {"type": "string", "pattern": DT_QUERY}, "example": "2024-05-31 23:59:59",
        },
        "extension_id": {
            "name": "extension_id", "in": "query", "required": False,
            "description": "Only records of this extension (the queue or voice menu id). An id with no records gives an empty array.",
            "schema": id_schema, "example": 10,
        },
        "limit": {
            "name": "limit", "in": "query", "required": False,
            "description": "At most this many records (1…100000). Omitted: every matching record, streamed.",
            "schema": {"type": "integer", "format": "int64", "minimum": 1, "maximum": 100000}, "example": 100,
        },
        "after_id": {
            "name": "after_id", "in": "query", "required": False,
            "description": "Paging: the `id` of the last rating of the previous page. The answer starts with the rating that "
                           "follows it in (`datetime`, `id`) order; repeat the same filters. An id that is not one of your "
                           "ratings answers 400.",
            "schema": id_schema,
        },
        "notification_limit": {
            "name": "limit", "in": "query", "required": False,
            "description": "At most this many deliveries (1…1000, default 100).",
            "schema": {"type": "integer", "format": "int64", "minimum": 1, "maximum": 1000}, "example": 100,
        },
        "before_id": {
            "name": "before_id", "in": "query", "required": False,
            "description": "Paging: the `rating_id` of the last delivery of the previous page; the answer goes on with older ratings.",
            "schema": id_schema,
        },
        "after_call_uuid": {
            "name": "after_call_uuid", "in": "query", "required": False,
            "description": "Paging: the `call_uuid` of the last record of the previous page. The answer starts with the call "
                           "that follows it in (`start_time`, `call_uuid`) order; repeat the same filters. A call that is not "
                           "one of yours answers 400.",
            "schema": {"type": "string", "pattern": UUID},
        },
        "with_agent": {
            "name": "with_agent", "in": "query", "required": False,
            "description": "`true` adds `agent_username` and `target` to each rating (who was rated). Default `false`.",
            "schema": {"type": "boolean", "default": False}, "example": True,
        },
    },
    "schemas": {
        "Error": {
            "type": "object",
            "description": "Every 4xx and 5xx answer of the `/api/` routes.",
            "required": ["error", "error_description"],
            "properties": {
                "error": {"type": "string", "description": "Machine-readable code: `invalid_parameter` (400), `invalid_token` (401), "
                          "`insufficient_access` (403), `not_found` (404), `method_not_allowed` (405), `conflict` (409), `payload_too_large` (413), "
                          "`unsupported_media_type` (415), `invalid_value` (422), `internal_error` (500)."},
                "error_description": {"type": "string", "description": "What went wrong and how to fix it, for a person."},
            },
        },
        "OAuthError": {
            "type": "object",
            "description": "An error of the token endpoint (OAuth 2 style, RFC 6749 §5.2).",
            "required": ["error", "error_description"],
            "properties": {
                "error": {"type": "string", "enum": ["invalid_request", "unsupported_grant_type", "unauthorized_client", "invalid_client", "invalid_grant", "temporarily_unavailable"]},
                "error_description": {"type": "string"},
            },
        },
        "TokenRequest": {
            "type": "object",
            "description": "`client_credentials` needs `client_id` + `client_secret` (a `trusted` application; the token acts "
                           "as the user who registered it). `password` also needs `username` + `password` (a "
                           "`password_credentials` application). `refresh_token` needs `client_id`, `client_secret` and "
                           "`refresh_token`.",
            "required": ["grant_type"],
            "properties": {
                "grant_type": {"type": "string", "enum": ["client_credentials", "password", "refresh_token"]},
                "client_id": {"type": "string", "description": "The application's app id (not the numeric client id)."},
                "client_secret": {"type": "string", "description": "The application's secret."},
                "username": {"type": "string", "description": "`password` grant only."},
                "password": {"type": "string", "description": "`password` grant only."},
                "refresh_token": {"type": "string", "description": "`refresh_token` grant only: a refresh token from an earlier answer."},
            },
        },
        "Token": {
            "type": "object",
            "required": ["access_token", "token_type", "expires_in", "scope"],
            "properties": {
                "access_token": {"type": "string", "description": "Send as `Authorization: Bearer <access_token>`."},
                "token_type": {"type": "string", "const": "Bearer"},
                "expires_in": {"type": "integer", "format": "int64", "minimum": 0, "description": "Seconds the access token stays valid."},
                "scope": {"type": "string", "const": "all"},
                "refresh_token": {"type": "string", "description": "Only for the `password` and `refresh_token` grants: "
                                  "exchange it for a new access token with `grant_type=refresh_token`."},
            },
        },
        "Health": {
            "type": "object",
            "required": ["status"],
            "properties": {
                "status": {"type": "string", "enum": ["ok", "unavailable"]},
                "reason": {"type": "string", "description": "Why the server is unavailable: the database cannot be read, "
                           "its writes fail (`disk full: 0 KiB free for the database`, `database locked`, `database read-only`…), "
                           "or it is stopping (`shutting down`: SIGTERM, calls draining)."},
            },
        },
        "Client": {
            "type": "object",
            "additionalProperties": False,
            "required": ["id", "name", "timezone", "domain", "rating_notification_url", "rating_alert_threshold"],
            "properties": {
                "id": {**id_schema, "description": "The client id used in every `/client/{client_id}/` path."},
                "name": {"type": "string", "minLength": 1, "maxLength": 200},
                "timezone": {"type": "string", "description": "IANA time zone (e.g. `Europe/Berlin`). Rating `datetime`, call "
                             "`start_time` and the `start_datetime`/`end_datetime` filters are in this zone."},
                "domain": {"type": "string", "description": "The client's SIP domain; phones register as `name@domain`."},
                "rating_notification_url": {"type": ["string", "null"], "format": "uri",
                                            "description": "Where each new rating is POSTed as JSON (retried on failure); null = no notifications."},
                "rating_alert_threshold": {"type": ["integer", "null"], "minimum": 0, "maximum": 100,
                                           "description": "Notifications of ratings with `rate / max_rate` at or below this percentage "
                                                          "carry `\"alert\": true`; null = no alerts."},
                "rating_notification_secret": {"type": "string", "pattern": "^whsec_[A-Za-z0-9]{40}$",
                                               "description": "Only in the answer of the `PUT` that made it (a new URL, or "
                                                              "`rotate_rating_notification_secret`): the key of the notifications' "
                                                              "`QualityRate-Signature`. Never shown again."},
            },
            "example": {"id": 1, "name": "Acme", "timezone": "Europe/Berlin", "domain": "acme.example",
                        "rating_notification_url": None, "rating_alert_threshold": None},
        },
        "ClientUpdate": {
            "type": "object",
            "additionalProperties": False,
            "description": "Only the fields given change; any other field answers 400. A field of the wrong JSON type answers 400.",
            "properties": {
                "name": {"type": "string", "minLength": 1, "maxLength": 200,
                         "description": "Surrounding white space is trimmed; empty, longer than 200 characters or with control characters: 422."},
                "timezone": {"type": "string", "description": "IANA time zone name, e.g. `Europe/Berlin`; unknown: 422. "
                             "Changes how every stored rating time is shown and filtered."},
                "rating_notification_url": {"type": ["string", "null"], "format": "uri",
                                            "description": "An `http` or `https` URL with a host, at most 2000 characters (else 422), or null to stop notifications. "
                                                           "A new URL makes a new signing secret, shown in this answer only."},
                "rating_alert_threshold": {"type": ["integer", "null"], "minimum": 0, "maximum": 100,
                                           "description": "Percentage of `max_rate` at or below which a rating's notification is an alert; "
                                                          "outside 0…100: 422; null: no alerts."},
                "rotate_rating_notification_secret": {"type": "boolean",
                                                      "description": "`true`: a new signing secret, shown in this answer only; the old one stops working."},
            },
            "example": {"timezone": "Europe/Berlin", "rating_notification_url": "https://crm.example/hooks/rating"},
        },
        "RatingNotificationDelivery": {
            "type": "object",
            "additionalProperties": False,
            "description": "A rating's notification to `rating_notification_url` and how its delivery went.",
            "required": ["rating_id", "url", "alert", "state", "attempts", "last_status", "last_error", "next_attempt_at", "delivered_at"],
            "properties": {
                "rating_id": {**id_schema, "description": "The rating notified (also the `Idempotency-Key` it was sent with)."},
                "url": {"type": "string", "description": "The URL at the time of the rating."},
                "alert": {"type": "boolean", "description": "At or below the client's `rating_alert_threshold`."},
                "state": {"type": "string", "enum": ["pending", "delivered", "failed"],
                          "description": "`pending`: to be (re)tried at `next_attempt_at`; `delivered`: a 2xx came back; "
                                         "`failed`: given up 24 hours after the rating."},
                "attempts": {"type": "integer", "format": "int64", "minimum": 0},
                "last_status": {"type": ["integer", "null"], "description": "HTTP status of the last answer; null when none came."},
                "last_error": {"type": ["string", "null"], "description": "Why the last attempt failed (`answered 500`, a timeout, a connection error)."},
                "next_attempt_at": {"type": ["string", "null"], "pattern": DT_RESPONSE, "description": "Client's time zone; null unless pending."},
                "delivered_at": {"type": ["string", "null"], "pattern": DT_RESPONSE, "description": "Client's time zone."},
            },
        },
        "Rating": {
            "type": "object",
            "additionalProperties": False,
            "description": "One rating: the key a caller pressed.",
            "required": ["id", "client_id", "call_uuid", "datetime", "extension_id", "rate", "max_rate"],
            "properties": {
                "id": {**id_schema, "description": "Unique id of the rating."},
                "client_id": {**id_schema},
                "call_uuid": {"type": "string", "pattern": UUID, "description": "The call; join key to `call_history`."},
                "datetime": {"type": "string", "pattern": DT_RESPONSE,
                             "description": "When the key was pressed, in the client's time zone."},
                "extension_id": {**id_schema, "description": "The queue or voice menu (IVR) whose rule asked for the rating."},
                "rate": {"type": "integer", "format": "int64", "minimum": 1, "maximum": 9, "description": "The key pressed, 1…`max_rate`."},
                "max_rate": {"type": "integer", "format": "int64", "minimum": 1, "maximum": 9,
                             "description": "The highest rating the rule allowed."},
            },
            "example": {"id": 4711, "client_id": 1, "call_uuid": "BF4643A0B90D11E98DA84B40F3DF0459",
                        "datetime": "2024-05-07 12:21:10", "extension_id": 10, "rate": 4, "max_rate": 5},
        },
    },
    "responses": {
        "BadRequest": err("invalid_parameter", "A path or query parameter (or the body) is malformed; `error_description` names it and the expected format.",
                          "start_datetime: expected YYYY-MM-DD HH:MM:SS"),
        "Unauthorized": {
            "description": "No `Authorization: Bearer` header, or the token is unknown or expired. Get a new token.",
            "headers": {"WWW-Authenticate": {"required": True, "description": "`Bearer` (with error details).",
                                             "schema": {"type": "string", "pattern": "^Bearer"}}},
            "content": {"application/json": {
                "schema": {"allOf": [ref("Error"), {"properties": {"error": {"const": "invalid_token"}}}]},
                "example": {"error": "invalid_token", "error_description": "The access token is missing, unknown or expired."},
            }},
        },
        "Forbidden": err("insufficient_access", "The application has `call_api` access, which reads but does not change configuration.",
                         "this application has call_api access; changing configuration needs all"),
        "NotFound": err("not_found", "No such resource for this client (ids of other clients answer 404 as well).", "no such rating"),
        "PayloadTooLarge": err("payload_too_large", "The request body is larger than 64 KiB.", "the request body is too large"),
        "UnsupportedMediaType": err("unsupported_media_type", "The body is not of the documented `Content-Type`.",
                                    "send Content-Type: application/json"),
        "UnprocessableEntity": err("invalid_value", "The body is well-formed but a value is not acceptable (unknown time zone, URL that is not http/https, empty name).",
                                   "timezone: unknown IANA time zone 'Europe/Berln'"),
        "InternalError": err("internal_error", "Unexpected server failure; nothing was changed. Retry later.", "internal error"),
    },
}

rating_with_agent = json.loads(json.dumps(components["schemas"]["Rating"]))
rating_with_agent["description"] = "A rating as returned with `with_agent=true`."
rating_with_agent["required"] += ["agent_username", "target"]
rating_with_agent["properties"]["agent_username"] = {
    "type": ["string", "null"],
    "description": "The queue agent who was rated (the call's `bridged_username`), or null when the whole call was rated."}
rating_with_agent["properties"]["target"] = {
    "type": "string", "enum": ["agent", "call"],
    "description": "`agent`: the rating is of the agent who hung up first; `call`: of the call as a whole."}
rating_with_agent["example"] = {**rating_with_agent["example"], "agent_username": "101", "target": "agent"}
components["schemas"]["RatingWithAgent"] = rating_with_agent

nullable_str = lambda d: {"type": ["string", "null"], "description": d}
components["schemas"]["CdrLeg"] = {
    "type": "object",
    "additionalProperties": False,
    "description": "One leg of a call.",
    "required": ["leg", "ani_number", "dest_number", "dest_domain", "application", "start_time_gmt", "duration"],
    "properties": {
        "leg": {"type": "string", "enum": ["caller", "agent", "callback_source", "callback_destination", "transfer"]},
        "ani_number": nullable_str("Calling number of this leg."),
        "dest_number": nullable_str("Number this leg went to."),
        "dest_domain": nullable_str("Domain of the destination."),
        "application": {"type": ["string", "null"], "enum": ["callcenter", "callback", "ivr", None],
                        "description": "What served the leg: a queue (`callcenter`), a callback or a voice menu; null for a plain call."},
        "start_time_gmt": {"type": "string", "pattern": DT_RESPONSE, "description": "UTC."},
        "duration": {"type": "integer", "format": "int64", "minimum": 0, "description": "Seconds."},
    },
}
components["schemas"]["CallHistory"] = {
    "type": "object",
    "additionalProperties": False,
    "description": "One call (one caller's journey) with its legs.",
    "required": ["call_uuid", "client_owner_id", "extension_id", "extension_name", "extension_type", "flow",
                 "did_number", "did_domain", "from_username", "from_screen_name", "from_domain",
                 "bridged_username", "bridged_domain", "bridged_time_gmt", "bridged_duration", "duration",
                 "hangup_disposition", "start_time", "start_time_gmt", "cdr"],
    "properties": {
        "call_uuid": {"type": "string", "pattern": UUID},
        "client_owner_id": {**id_schema, "description": "The client the call belongs to."},
        "extension_id": {"type": ["integer", "null"], "format": "int64", "minimum": 1, "maximum": INT64_MAX,
                         "description": "The extension (phone, queue or IVR) the call reached first; null if none."},
        "extension_name": nullable_str("That extension's number inside the client, e.g. `100`."),
        "extension_type": {"type": ["string", "null"], "enum": ["phone", "queue", "ivr", None]},
        "flow": {"type": "string", "enum": ["in", "out"], "description": "`in`: from outside or from a phone; `out`: started by the API (callback)."},
        "did_number": nullable_str("The DID dialled, for calls from a trunk."),
        "did_domain": nullable_str("Domain of that DID."),
        "from_username": nullable_str("Caller's number or SIP user."),
        "from_screen_name": nullable_str("Caller's display name."),
        "from_domain": nullable_str("Caller's domain."),
        "bridged_username": nullable_str("The agent or party bridged last; null if never bridged."),
        "bridged_domain": nullable_str("Domain of the bridged party."),
        "bridged_time_gmt": {"type": ["string", "null"], "pattern": DT_RESPONSE, "description": "When the bridge started, UTC; null if never bridged."},
        "bridged_duration": {"type": ["integer", "null"], "format": "int64", "minimum": 0,
                             "description": "Seconds bridged; null if never bridged."},
        "duration": {"type": "integer", "format": "int64", "minimum": 0, "description": "Seconds, whole call."},
        "hangup_disposition": {"type": "string", "enum": ["caller_hangup", "agent_hangup", "system"]},
        "start_time": {"type": "string", "pattern": DT_RESPONSE, "description": "Start of the call, client's time zone."},
        "start_time_gmt": {"type": "string", "pattern": DT_RESPONSE, "description": "Start of the call, UTC."},
        "cdr": {"type": "array", "items": ref("CdrLeg")},
    },
}

P = lambda name: ref(name, "parameters")
R = lambda name: ref(name, "responses")
std = lambda *codes: {c: R({"400": "BadRequest", "401": "Unauthorized", "403": "Forbidden", "404": "NotFound",
                            "413": "PayloadTooLarge", "415": "UnsupportedMediaType", "422": "UnprocessableEntity", "500": "InternalError"}[c]) for c in codes}
json_resp = lambda desc, schema, example=None: {"description": desc, "content": {"application/json": {
    "schema": schema, **({"example": example} if example is not None else {})}}}

paths = {
    "/oauth/token": {"post": {
        "operationId": "createToken", "tags": ["Access"], "security": [],
        "summary": "Get an access token",
        "description": "OAuth 2 token endpoint. Send the form fields `application/x-www-form-urlencoded` (no Bearer header). "
                       "Tokens expire after `expires_in` seconds; then ask again (or use the refresh token). "
                       "Example: `curl -d grant_type=client_credentials -d client_id=APP_ID -d client_secret=APP_SECRET http://127.0.0.1:8080/oauth/token`.",
        "requestBody": {"required": True, "content": {"application/x-www-form-urlencoded": {
            "schema": ref("TokenRequest"),
            "example": {"grant_type": "client_credentials", "client_id": "APP_ID", "client_secret": "APP_SECRET"}}}},
        "responses": {
            "200": json_resp("A new token.", ref("Token"),
                             {"access_token": "ykX7vsJstZkUh1x3hG5sIeRgRaICMm", "token_type": "Bearer", "expires_in": 3600, "scope": "all"}),
            "400": json_resp("A field is missing or malformed (`invalid_request`), `grant_type` is not supported (`unsupported_grant_type`), "
                             "or the application's type does not allow this grant (`unauthorized_client`: `client_credentials` is for "
                             "`trusted` applications, `password` for `password_credentials` ones).",
                             {"allOf": [ref("OAuthError"), {"properties": {"error": {"enum": ["invalid_request", "unsupported_grant_type", "unauthorized_client"]}}}]},
                             {"error": "unsupported_grant_type", "error_description": "grant_type must be client_credentials, password or refresh_token"}),
            "401": json_resp("Unknown application or wrong secret (`invalid_client`); wrong username or password, "
                             "or a refresh token that is unknown, used or expired (`invalid_grant`).",
                             {"allOf": [ref("OAuthError"), {"properties": {"error": {"enum": ["invalid_client", "invalid_grant"]}}}]},
                             {"error": "invalid_grant", "error_description": "the refresh token is unknown or expired"}),
            "413": R("PayloadTooLarge"),
            "415": {"description": "The body is not `application/x-www-form-urlencoded`.", "content": {"application/json": {"schema": ref("Error")}}},
            "429": {**json_resp("Too many failed sign-ins (`temporarily_unavailable`): from this address (`serve --ban-after`, "
                                "default 10 in 60 s), or for this application or user from addresses it never signed in from "
                                "(`--ban-account-after`, default 30). Nothing is checked until the ban ends; each further ban of the "
                                "address within a day is twice as long.",
                                {"allOf": [ref("OAuthError"), {"properties": {"error": {"enum": ["temporarily_unavailable"]}}}]},
                                {"error": "temporarily_unavailable",
                                 "error_description": "too many failed sign-ins from this address or for this account; try again in 60 s"}),
                    "headers": {"Retry-After": {"required": True, "description": "Seconds until the ban ends.",
                                                "schema": {"type": "integer", "minimum": 1}}}},
            "500": R("InternalError"),
        },
    }},
    "/health": {"get": {
        "operationId": "getHealth", "tags": ["Service"], "security": [],
        "summary": "Liveness and readiness probe",
        "description": "200 while the server can read its database and write to it, 503 with the reason otherwise. Writes are "
                       "judged by a real write the server makes every 2 s (its heartbeat) and by the free space for the database, "
                       "so a full disk, a locked or read-only database answers 503 within seconds, and 200 again once writes work; "
                       "503 too while the server drains its calls after SIGTERM. "
                       "No authentication.",
        "responses": {
            "200": json_resp("Ready.", {"allOf": [ref("Health"), {"properties": {"status": {"const": "ok"}}}]}, {"status": "ok"}),
            "503": json_resp("The database cannot be read, writes to it fail, or the server is stopping.",
                             {"allOf": [ref("Health"), {"required": ["reason"], "properties": {"status": {"const": "unavailable"}}}]},
                             {"status": "unavailable", "reason": "disk full: 0 KiB free for the database"}),
        },
    }},
    "/metrics": {"get": {
        "operationId": "getMetrics", "tags": ["Service"], "security": [],
        "summary": "Prometheus metrics",
        "description": "Prometheus text exposition format (`text/plain; version=0.0.4`): HTTP requests, calls, ratings. No authentication; "
                       "keep the HTTP port on a trusted network.",
        "responses": {"200": {"description": "Metrics.", "content": {"text/plain": {"schema": {"type": "string"}}}}},
    }},
    "/api/ver1.0/openapi.json": {"get": {
        "operationId": "getOpenAPIDocument", "tags": ["Service"], "security": [],
        "summary": "This OpenAPI document",
        "responses": {"200": json_resp("The OpenAPI 3.1 document.", {"type": "object", "required": ["openapi", "info", "paths"]})},
    }},
    "/api/browser": {"get": {
        "operationId": "getAPIBrowser", "tags": ["Service"], "security": [],
        "summary": "Interactive API browser (HTML page)",
        "description": "A web page to get a token and try every operation of this document from a browser.",
        "responses": {"200": {"description": "The page.", "content": {"text/html": {"schema": {"type": "string"}}}}},
    }},
    "/api/ver1.0/client/{client_id}/": {
        "parameters": [P("client_id")],
        "get": {
            "operationId": "getClient", "tags": ["Client"],
            "summary": "Get your client",
            "description": "Name, time zone, SIP domain and rating notification URL of the client the token belongs to.",
            "responses": {"200": json_resp("The client.", ref("Client")), **std("400", "401", "404", "500")},
        },
        "put": {
            "operationId": "updateClient", "tags": ["Client"],
            "summary": "Change name, time zone or rating notification URL",
            "description": "JSON body; fields left out keep their value. Needs an application with `all` access (a `call_api` "
                           "token answers 403). Changing `timezone` changes how every rating `datetime` and call `start_time` is "
                           "shown and filtered from now on (the stored instants do not change).",
            "requestBody": {"required": True, "content": {"application/json": {"schema": ref("ClientUpdate")}}},
            "responses": {"200": json_resp("The client after the change.", ref("Client")),
                          **std("400", "401", "403", "404", "413", "415", "422", "500")},
        },
    },
    "/api/ver1.0/client/{client_id}/quality_rate/": {
        "parameters": [P("client_id")],
        "get": {
            "operationId": "listRatings", "tags": ["Ratings"],
            "summary": "List ratings",
            "description": "Ratings ordered by `datetime`, then `id` (oldest first). `datetime` and the period filters are in the "
                           "client's time zone. Without `limit` every matching rating is returned (the array is streamed, so "
                           "millions are fine). To page: ask with `limit=N`; if N ratings came back, ask again with the same "
                           "filters and `after_id` = the `id` of the last one; an answer shorter than N is the last page. "
                           "Use each rating's `call_uuid` with `GET …/call_history/{call_uuid}` for the call's details.",
            "parameters": [P("start_datetime"), P("end_datetime"), P("extension_id"), P("limit"), P("after_id"), P("with_agent")],
            "responses": {
                "200": json_resp("The ratings (an empty array when none match). With `with_agent=true` every element is a `RatingWithAgent`.",
                                 {"anyOf": [{"type": "array", "items": ref("Rating")}, {"type": "array", "items": ref("RatingWithAgent")}]},
                                 [components["schemas"]["Rating"]["example"]]),
                **std("400", "401", "404", "500"),
            },
        },
    },
    "/api/ver1.0/client/{client_id}/quality_rate/notifications/": {
        "parameters": [P("client_id")],
        "get": {
            "operationId": "listRatingNotifications", "tags": ["Ratings"],
            "summary": "Recent rating notifications and their delivery",
            "description": "Each new rating is POSTed as signed JSON to the client's `rating_notification_url` (docs/API.md, "
                           "\"Rating notifications\"), retried with backoff for 24 hours. This lists them newest rating first, "
                           "with the outcome of the last attempt.",
            "parameters": [P("notification_limit"), P("before_id")],
            "responses": {"200": json_resp("The deliveries (an empty array when none).",
                                           {"type": "array", "items": ref("RatingNotificationDelivery")}),
                          **std("400", "401", "404", "500")},
        },
    },
    "/api/ver1.0/client/{client_id}/quality_rate/{id}": {
        "parameters": [P("client_id"), P("rating_id")],
        "get": {
            "operationId": "getRating", "tags": ["Ratings"],
            "summary": "Get one rating",
            "parameters": [P("with_agent")],
            "responses": {
                "200": json_resp("The rating (a `RatingWithAgent` with `with_agent=true`).",
                                 {"oneOf": [ref("Rating"), ref("RatingWithAgent")]}),
                **std("400", "401", "404", "500"),
            },
        },
    },
    "/api/ver1.0/client/{client_id}/call_history/": {
        "parameters": [P("client_id")],
        "get": {
            "operationId": "listCallHistory", "tags": ["Call history"],
            "summary": "List calls of a period",
            "description": "Calls ordered by `start_time`, then `call_uuid`. The period filters apply to the call's start, in the "
                           "client's time zone; `*_gmt` fields are UTC. Without `limit` every matching call is returned (streamed). "
                           "To page: `limit=N`, then the same filters and `after_call_uuid` = the `call_uuid` of the last call.",
            "parameters": [P("start_datetime"), P("end_datetime"), P("extension_id"), P("limit"), P("after_call_uuid")],
            "responses": {"200": json_resp("The calls (an empty array when none match).", {"type": "array", "items": ref("CallHistory")}),
                          **std("400", "401", "404", "500")},
        },
    },
    "/api/ver1.0/client/{client_id}/call_history/{call_uuid}": {
        "parameters": [P("client_id"), P("call_uuid")],
        "get": {
            "operationId": "getCallHistory", "tags": ["Call history"],
            "summary": "Get one call with its legs",
            "description": "The call a rating belongs to: who called, which DID and extension, the agent bridged (`bridged_username`), "
                           "who hung up, and every leg in `cdr`.",
            "responses": {"200": json_resp("The call.", ref("CallHistory")), **std("400", "401", "404", "500")},
        },
    },
}

doc = {
    "openapi": "3.1.0",
    "info": {
        "title": "QualityRate API",
        "version": "1.0.0",
        "description": (
            "Conversation ratings (`quality_rate`) of a contact centre, and the calls they belong to.\n\n"
            "**Access.** Get a token from `POST /oauth/token` (form-encoded, with your application's app id and secret), "
            "then send `Authorization: Bearer <access_token>` on every `/api/ver1.0/client/…` request. "
            "A token reaches only its own client; another client's ids answer 404.\n\n"
            "**Time.** `datetime`, `start_time` and the `start_datetime`/`end_datetime` filters are `YYYY-MM-DD HH:MM:SS` in the "
            "client's time zone (`timezone` of `GET /api/ver1.0/client/{client_id}/`); fields ending in `_gmt` are UTC.\n\n"
            "**Paging.** Lists are ordered and may be read in pages with `limit` plus `after_id` (ratings) or `after_call_uuid` "
            "(calls), the key of the last record of the previous page.\n\n"
            "**Errors.** `{\"error\": \"<code>\", \"error_description\": \"<text>\"}`: 400 `invalid_parameter`, 401 `invalid_token` "
            "(with `WWW-Authenticate: Bearer`), 403 `insufficient_access`, 404 `not_found` (also for any path not listed here), "
            "405 `method_not_allowed` (a listed path with another method; `Allow` lists the methods), 409 `conflict` (a name or number already taken, "
            "or something still in use), 413 `payload_too_large` (a body over 64 KiB; 10 MiB for sound uploads), 415 `unsupported_media_type`, 422 `invalid_value`, "
            "500 `internal_error`.\n\n"
            "Try it in a browser at `/api/browser`."),
    },
    "servers": [{"url": "/"}],
    "security": [{"bearerAuth": []}],
    "tags": [
        {"name": "Access", "description": "Tokens."},
        {"name": "Client", "description": "Your client (tenant)."},
        {"name": "Ratings", "description": "Conversation ratings pressed by callers."},
        {"name": "Call history", "description": "Calls and their legs."},
        {"name": "Service", "description": "Probes, metrics and documentation; no authentication."},
    ],
    "paths": paths,
    "components": components,
}

# Each capability describes its own routes in a module of its own beside this file, with
# `extend(paths, components, tags)` adding to the document.
import importlib
import pathlib
import sys as _sys

_sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
for _module in ("openapi_configuration", "openapi_sounds", "openapi_ivr", "openapi_callback", "openapi_statistics"):
    if (pathlib.Path(__file__).resolve().parent / f"{_module}.py").exists():
        importlib.import_module(_module).extend(paths, components, doc["tags"])


def document_text():
    return json.dumps(doc, indent=2, ensure_ascii=False) + "\n"


if __name__ == "__main__":
    import pathlib
    import sys
    target = pathlib.Path(__file__).resolve().parent.parent / "Sources/HTTPAPI/Resources/openapi.json"
    if sys.argv[1:] == ["--check"]:
        if not target.exists() or target.read_text() != document_text():
            sys.exit(f"{target} is not what tools/gen_openapi.py generates: run python3 tools/gen_openapi.py")
        print("OpenAPI document up to date")
    else:
        target.write_text(document_text())
