"""Building blocks shared by the modules that describe the API's routes for tools/gen_openapi.py."""

INT64_MAX = 9223372036854775807

# The response components every status code of a configuration route refers to.
STANDARD_RESPONSES = {"400": "BadRequest", "401": "Unauthorized", "403": "Forbidden", "404": "NotFound", "409": "Conflict",
                      "413": "PayloadTooLarge", "415": "UnsupportedMediaType", "422": "UnprocessableEntity",
                      "500": "InternalError"}


def ref(name, kind="schemas"):
    return {"$ref": f"#/components/{kind}/{name}"}


def P(name):
    return ref(name, "parameters")


def R(name):
    return ref(name, "responses")


def std(*codes, names=STANDARD_RESPONSES):
    """The responses of `codes`, by reference to the components named in `names`."""
    return {code: R(names[code]) for code in codes}


def error(code, description, example):
    return {"description": description, "content": {"application/json": {
        "schema": {"allOf": [ref("Error"), {"properties": {"error": {"const": code}}}]},
        "example": {"error": code, "error_description": example}}}}


def json_response(description, schema, example=None):
    content = {"schema": schema}
    if example is not None:
        content["example"] = example
    return {"description": description, "content": {"application/json": content}}


def json_body(schema):
    return {"required": True, "content": {"application/json": {"schema": ref(schema)}}}
