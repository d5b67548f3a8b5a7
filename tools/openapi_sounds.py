"""Sounds (SPEC §4, §7): the /client/{client_id}/sound/ routes, added to the OpenAPI document by
tools/gen_openapi.py."""

ACCEPTED = ("WAV (RIFF/WAVE) in mono: PCM 8- or 16-bit at 8000 or 16000 Hz, or G.711 µ-law or A-law at 8000 Hz")
DT_RESPONSE = r"^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}$"
from openapi_common import INT64_MAX, STANDARD_RESPONSES, P, R, error, json_response, ref
from openapi_common import std as standard


def extend(paths, components, tags):
    id_schema = {"type": "integer", "format": "int64", "minimum": 1, "maximum": INT64_MAX}

    components["parameters"]["sound_id"] = {
        "name": "id", "in": "path", "required": True,
        "description": "The sound's `id`. Not a positive integer: 400; unknown or another client's: 404.",
        "schema": id_schema, "example": 1,
    }
    title = {"type": "string", "minLength": 1, "maxLength": 200,
             "description": "Display name. Surrounding white space is trimmed; empty, longer than 200 characters or "
                            "with control characters: 422."}
    components["schemas"]["Sound"] = {
        "type": "object",
        "additionalProperties": False,
        "description": "An uploaded sound. Its audio is kept converted to 8 kHz G.711 (µ-law and A-law), ready to play.",
        "required": ["id", "title", "filename", "duration", "create_date", "update_date"],
        "properties": {
            "id": {**id_schema, "description": "Referenced by queue options (`quality_rate_sound`, …) and IVR rules (`sound`, …)."},
            "title": {"type": "string", "minLength": 1, "maxLength": 200},
            "filename": {"type": "string", "minLength": 1, "maxLength": 255,
                         "description": "The uploaded file's name (without folders); `sound.wav` when the upload named none."},
            "duration": {"type": "integer", "format": "int64", "minimum": 0, "maximum": 600000,
                         "description": "Length in **milliseconds**."},
            "create_date": {"type": "string", "pattern": DT_RESPONSE, "description": "When it was uploaded, client's time zone."},
            "update_date": {"type": "string", "pattern": DT_RESPONSE,
                            "description": "Last change of title or audio, client's time zone."},
        },
        "example": {"id": 7, "title": "Rating prompt (German)", "filename": "bewertung.wav", "duration": 4350,
                    "create_date": "2026-11-25 09:30:00", "update_date": "2026-11-25 09:30:00"},
    }
    file_field = {"type": "string", "format": "binary", "contentMediaType": "audio/wav",
                  "description": f"The sound, at most 10 MiB and 10 minutes. Accepted: {ACCEPTED}. It is converted once to "
                                 "8 kHz µ-law and A-law (16 kHz is low-pass filtered first)."}
    components["schemas"]["SoundUpload"] = {
        "type": "object",
        "additionalProperties": False,
        "description": "`multipart/form-data` with the fields `title` and `file`; any other field answers 400.",
        "required": ["title", "file"],
        "properties": {"title": title, "file": file_field},
    }
    components["schemas"]["SoundAudioReplacement"] = {
        "type": "object",
        "additionalProperties": False,
        "description": "`multipart/form-data` with the field `file`, and `title` to change it at the same time.",
        "required": ["file"],
        "properties": {"title": title, "file": file_field},
    }
    components["schemas"]["SoundUpdate"] = {
        "type": "object",
        "additionalProperties": False,
        "description": "Only `title`; left out, nothing changes. Any other field answers 400 (the audio is replaced with "
                       "`POST …/sound/{id}`).",
        "properties": {"title": title},
        "example": {"title": "Welcome"},
    }
    components["responses"]["UploadTooLarge"] = error(
        "payload_too_large", "The upload is larger than 10 MiB (or a JSON body larger than 64 KiB).",
        "the upload is larger than 10 MiB")
    components["responses"]["NotWAV"] = error(
        "unsupported_media_type",
        "The body is not `multipart/form-data` (or, for `PUT`, not `application/json`), or `file` is not a WAV file at all "
        "(MP3, Ogg, text…); the description says what is accepted.",
        f"file: the file looks like MP3, which is not accepted; convert it to WAV; accepted: {ACCEPTED}")
    components["responses"]["SoundNotAccepted"] = error(
        "invalid_value",
        "`file` is a WAV file the server does not play (stereo, 44.1 kHz, floating point, damaged, empty, longer than 10 "
        "minutes), saying what was found and what is accepted; or `title` or the file name is not acceptable.",
        f"file: the WAV file is PCM 16-bit, 44100 Hz, 2 channels: only mono (1 channel) is accepted; accepted: {ACCEPTED}")
    components["responses"]["SoundInUse"] = error(
        "conflict", "The sound is played by the configuration (queue options, IVR rules); the description names where.",
        "sound 7 is in use by IVR rule 12 (sound); choose another sound there first")

    sound_responses = {**STANDARD_RESPONSES, "409": "SoundInUse", "413": "UploadTooLarge", "415": "NotWAV",
                       "422": "SoundNotAccepted"}
    std = lambda *codes: standard(*codes, names=sound_responses)
    multipart = lambda schema: {"required": True, "content": {"multipart/form-data": {
        "schema": ref(schema), "encoding": {"file": {"contentType": "audio/wav, audio/x-wav, application/octet-stream"}}}}}

    paths["/api/ver1.0/client/{client_id}/sound/"] = {
        "parameters": [P("client_id")],
        "get": {
            "operationId": "listSounds", "tags": ["Sounds"],
            "summary": "List sounds",
            "description": "Every sound of the client in `id` order, without audio.",
            "responses": {"200": json_response("The sounds (an empty array when there are none).",
                                               {"type": "array", "items": ref("Sound")}),
                          **std("400", "401", "404", "500")},
        },
        "post": {
            "operationId": "createSound", "tags": ["Sounds"],
            "summary": "Upload a sound",
            "description": "`multipart/form-data` with `title` and `file` (a WAV file). Needs `all` access. Example: "
                           "`curl -H \"Authorization: Bearer $TOKEN\" -F title=Greeting -F file=@greeting.wav "
                           "http://127.0.0.1:8080/api/ver1.0/client/1/sound/`.",
            "requestBody": multipart("SoundUpload"),
            "responses": {"201": json_response("The new sound.", ref("Sound")),
                          **std("400", "401", "403", "404", "413", "415", "422", "500")},
        },
    }
    paths["/api/ver1.0/client/{client_id}/sound/{id}"] = {
        "parameters": [P("client_id"), P("sound_id")],
        "get": {
            "operationId": "getSound", "tags": ["Sounds"],
            "summary": "Get one sound (metadata)",
            "responses": {"200": json_response("The sound.", ref("Sound")), **std("400", "401", "404", "500")},
        },
        "put": {
            "operationId": "updateSound", "tags": ["Sounds"],
            "summary": "Rename a sound",
            "description": "JSON `{\"title\": …}`. Needs `all` access.",
            "requestBody": {"required": True, "content": {"application/json": {"schema": ref("SoundUpdate")}}},
            "responses": {"200": json_response("The sound after the change.", ref("Sound")),
                          **std("400", "401", "403", "404", "413", "415", "422", "500")},
        },
        "post": {
            "operationId": "replaceSoundAudio", "tags": ["Sounds"],
            "summary": "Replace a sound's audio",
            "description": "`multipart/form-data` with `file` (and optionally `title`). The `id` stays, so every queue and IVR "
                           "rule that plays the sound plays the new audio. Needs `all` access. A refused file changes nothing.",
            "requestBody": multipart("SoundAudioReplacement"),
            "responses": {"200": json_response("The sound with its new audio.", ref("Sound")),
                          **std("400", "401", "403", "404", "413", "415", "422", "500")},
        },
        "delete": {
            "operationId": "deleteSound", "tags": ["Sounds"],
            "summary": "Delete a sound",
            "description": "Needs `all` access. Refused with 409 while a queue option or IVR rule plays it.",
            "responses": {"204": {"description": "Deleted."}, **std("400", "401", "403", "404", "409", "500")},
        },
    }
    paths["/api/ver1.0/client/{client_id}/sound/{id}/download"] = {
        "parameters": [P("client_id"), P("sound_id")],
        "get": {
            "operationId": "downloadSound", "tags": ["Sounds"],
            "summary": "Download a sound's audio",
            "description": "The stored audio as it is played: a WAV file, 8 kHz mono G.711 µ-law.",
            "responses": {
                "200": {"description": "The WAV file (`Content-Disposition: attachment; filename=\"sound-{id}.wav\"`).",
                        "content": {"audio/wav": {"schema": {"type": "string", "format": "binary"}}}},
                **std("400", "401", "404", "500"),
            },
        },
    }
    tags.append({"name": "Sounds", "description": "Uploaded audio for prompts and announcements (WAV; converted to 8 kHz G.711)."})
