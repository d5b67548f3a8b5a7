"""Statistics of ratings (issue 10): GET /client/{client_id}/quality_rate/statistics/, added to the
OpenAPI document by tools/gen_openapi.py."""

from openapi_common import INT64_MAX, P, ref, std

DT_RESPONSE = r"^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}$"


def extend(paths, components, tags):
    components["parameters"]["statistics_interval"] = {
        "name": "interval", "in": "query", "required": False,
        "description": "Split the period into buckets of one local `hour`, `day`, `week` (Monday to Sunday) or `month` of the "
                       "client's time zone, across daylight-saving changes (a day is 23 or 25 hours long then). Omitted: one "
                       "bucket for the whole period. Anything else: 400.",
        "schema": {"type": "string", "enum": ["hour", "day", "week", "month"]}, "example": "day",
    }
    components["parameters"]["statistics_group_by"] = {
        "name": "group_by", "in": "query", "required": False,
        "description": "Split each bucket per `agent` (`agent_username`; null for ratings of a whole call) or per `extension` "
                       "(`extension_id`, the queue or voice menu). Omitted: no split. Anything else: 400.",
        "schema": {"type": "string", "enum": ["agent", "extension"]}, "example": "agent",
    }
    components["parameters"]["agent_username"] = {
        "name": "agent_username", "in": "query", "required": False,
        "description": "Only ratings of this agent (the username of the agent's phone, e.g. `101`). Empty or over 64 characters: 400.",
        "schema": {"type": "string", "minLength": 1, "maxLength": 64}, "example": "101",
    }
    percent = {"type": "number", "minimum": 0, "maximum": 100}
    components["schemas"]["StatisticsBucket"] = {
        "type": "object", "additionalProperties": False,
        "description": "The ratings of one interval (and one agent or extension when grouped). Only buckets holding at least "
                       "one rating are listed.",
        "required": ["start", "count", "average", "count_per_key", "score_percent", "csat_percent"],
        "properties": {
            "start": {"type": ["string", "null"], "pattern": DT_RESPONSE,
                      "description": "The local wall-clock start of the interval (`2024-05-06 00:00:00`); null without `interval`."},
            "agent_username": {"type": ["string", "null"],
                               "description": "With `group_by=agent`: the agent rated, or null for ratings of the whole call."},
            "extension_id": {"type": "integer", "format": "int64", "minimum": 1, "maximum": INT64_MAX,
                             "description": "With `group_by=extension`: the queue or voice menu whose rule asked for the ratings."},
            "count": {"type": "integer", "format": "int64", "minimum": 1, "description": "Ratings in the bucket."},
            "average": {"type": "number", "minimum": 1, "maximum": 9, "description": "Mean `rate` (key pressed)."},
            "count_per_key": {"type": "object", "propertyNames": {"pattern": "^[1-9]$"},
                              "additionalProperties": {"type": "integer", "format": "int64", "minimum": 1},
                              "description": "Ratings per `rate` pressed (keys never pressed are left out)."},
            "score_percent": {**percent, "description": "Mean of `rate / max_rate` × 100: comparable across rules with different `max_rate`."},
            "csat_percent": {**percent, "description": "Share of ratings with `rate / max_rate >= 0.8`, × 100."},
        },
    }
    components["schemas"]["Statistics"] = {
        "type": "object", "additionalProperties": False, "required": ["interval", "group_by", "buckets"],
        "properties": {
            "interval": {"type": ["string", "null"], "enum": ["hour", "day", "week", "month", None]},
            "group_by": {"type": ["string", "null"], "enum": ["agent", "extension", None]},
            "buckets": {"type": "array", "items": ref("StatisticsBucket"),
                        "description": "Ordered by `start`, then ratings of no agent first, then by `agent_username`, or by `extension_id`."},
        },
        "example": {"interval": "day", "group_by": "agent", "buckets": [
            {"start": "2024-05-06 00:00:00", "agent_username": "101", "count": 3, "average": 4.0,
             "count_per_key": {"3": 1, "4": 1, "5": 1}, "score_percent": 80.0, "csat_percent": 66.66666666666667}]},
    }
    paths["/api/ver1.0/client/{client_id}/quality_rate/statistics/"] = {
        "parameters": [P("client_id")],
        "get": {
            "operationId": "getRatingStatistics", "tags": ["Ratings"],
            "summary": "Statistics of a period's ratings",
            "description": "Count, average, count per key, normalised score and CSAT of the ratings of a period, in buckets per "
                           "local hour, day, week or month (`interval`) and per agent or extension (`group_by`). The period "
                           "filters are those of the ratings list, inclusive, in the client's time zone. An empty period gives "
                           "`\"buckets\": []`. Answered from per-quarter-hour rollups kept as ratings are stored.",
            "parameters": [P("start_datetime"), P("end_datetime"), P("extension_id"), P("agent_username"),
                           P("statistics_interval"), P("statistics_group_by")],
            "responses": {
                "200": {"description": "The buckets.", "content": {"application/json": {
                    "schema": ref("Statistics"), "example": components["schemas"]["Statistics"]["example"]}}},
                **std("400", "401", "404", "500"),
            },
        },
    }
