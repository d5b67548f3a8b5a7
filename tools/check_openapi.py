"""Checks Sources/HTTPAPI/Resources/openapi.json, the API's one description, edited by hand:
it must be an OpenAPI 3.1 document that validates (openapi-spec-validator), and be written as
`json.dumps(…, indent=2, ensure_ascii=False)` writes it, so that hand edits stay small diffs.

    python3 tools/check_openapi.py          # run by scripts/test
    python3 tools/check_openapi.py --format # rewrites the file in that layout after an edit

Whether the document names exactly the routes the server answers is checked by the Swift test
OpenAPIDocumentTests; whether the answers match it, by schemathesis (tests/web).
"""
import json
import pathlib
import sys

DOCUMENT = pathlib.Path(__file__).resolve().parent.parent / "Sources/HTTPAPI/Resources/openapi.json"


def main() -> None:
    text = DOCUMENT.read_text(encoding="utf-8")
    try:
        document = json.loads(text)
    except json.JSONDecodeError as error:
        sys.exit(f"{DOCUMENT}: not JSON: {error}")
    layout = json.dumps(document, indent=2, ensure_ascii=False) + "\n"
    if sys.argv[1:] == ["--format"]:
        DOCUMENT.write_text(layout, encoding="utf-8")
        return
    from openapi_spec_validator import validate

    validate(document)
    if text != layout:
        sys.exit(f"{DOCUMENT}: valid, but not in the repository's layout: run python3 tools/check_openapi.py --format")
    print(f"{DOCUMENT.name}: a valid OpenAPI {document['openapi']} document, {len(document['paths'])} paths")


if __name__ == "__main__":
    main()
