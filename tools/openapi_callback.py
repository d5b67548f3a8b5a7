"""Calls started by the API (SPEC §2.3): POST /extension/{extension_id}/callback/, added to the
OpenAPI document by tools/gen_openapi.py."""

from openapi_common import INT64_MAX, R, ref
NUMBER = r"^\+?[0-9]{1,20}$"


def extend(paths, components, tags):
    components["parameters"]["callback_extension_id"] = {
        "name": "extension_id", "in": "path", "required": True,
        "description": "The extension the callback is started for (any of your extensions; it is the call's initiator). "
                       "Not a positive integer: 400; unknown or another client's: 404.",
        "schema": {"type": "integer", "format": "int64", "minimum": 1, "maximum": INT64_MAX}, "example": 10,
    }
    number = {"type": "string", "pattern": NUMBER, "maxLength": 21}
    components["schemas"]["CallbackRequest"] = {
        "type": "object", "additionalProperties": False, "required": ["src_num", "dst_num"],
        "properties": {
            "src_num": {"type": "array", "minItems": 1, "maxItems": 10,
                        "items": {"anyOf": [number, {"type": "integer", "minimum": 0, "maximum": INT64_MAX}]},
                        "description": "The numbers rung first, all at once: phones of your client (extension names). "
                                       "The first to answer is connected to `dst_num`."},
            "dst_num": {**number, "description": "What the answering source is connected to: an extension name "
                                                "(a phone, a queue, a voice menu) or a DID of your client."},
            "transfer_after_src_hangup": {"type": ["string", "null"], "pattern": NUMBER, "maxLength": 21,
                                          "description": "Where the destination party goes when the source hangs up first "
                                                         "(the destination being a phone)."},
            "transfer_after_dst_hangup": {"type": ["string", "null"], "pattern": NUMBER, "maxLength": 21,
                                          "description": "Where the source party goes when the destination (a phone) hangs up "
                                                         "first, e.g. a voice menu with a `quality_rate` rule to get the source's rating."},
        },
        "example": {"src_num": ["101"], "dst_num": "102", "transfer_after_dst_hangup": "099"},
    }
    components["schemas"]["CallbackStarted"] = {
        "type": "object", "additionalProperties": False, "required": ["call_uuid"],
        "properties": {"call_uuid": {"type": "string", "pattern": r"^[0-9A-F]{32}$",
                                     "description": "The call's id: its history appears under `call_history/{call_uuid}` when it ends."}},
        "example": {"call_uuid": "BF4643A0B90D11E98DA84B40F3DF0459"},
    }
    tags.append({"name": "Callbacks", "description": "Calls the server places (SPEC §2.3)."})
    unavailable = {"description": "The request is valid but the server cannot place calls: it is stopping (`shutting_down`, "
                                  "SIGTERM: send it to another server or later) or no SIP telephony is connected "
                                  "(`telephony_unavailable`); nothing was started.",
                   "content": {"application/json": {"schema": {"allOf": [ref("Error"), {"properties": {"error": {
                       "enum": ["shutting_down", "telephony_unavailable"]}}}]}}}}
    paths["/api/ver1.0/extension/{extension_id}/callback/"] = {
        "parameters": [ref("callback_extension_id", "parameters")],
        "post": {
            "operationId": "startCallback", "tags": ["Callbacks"], "summary": "Start a callback",
            "description": "Rings `src_num`; the first source to answer is connected to `dst_num`. When the destination, a phone, "
                           "hangs up first the source goes to `transfer_after_dst_hangup`; when the source hangs up first the "
                           "destination goes to `transfer_after_src_hangup`. A `call_api` token may start callbacks. "
                           "Every number is checked before anything starts (422 names the field).",
            "requestBody": {"required": True, "content": {"application/json": {"schema": ref("CallbackRequest")}}},
            "responses": {
                "201": {"description": "The call has started.", "content": {"application/json": {"schema": ref("CallbackStarted")}}},
                "400": R("BadRequest"), "401": R("Unauthorized"), "404": R("NotFound"), "413": R("PayloadTooLarge"),
                "415": R("UnsupportedMediaType"), "422": R("UnprocessableEntity"), "500": R("InternalError"), "503": unavailable,
            },
        },
    }
