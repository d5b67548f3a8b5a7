#!/usr/bin/env bash
# Property-based API tests: schemathesis (PyPI `schemathesis`, 4.x) generates requests from the
# served OpenAPI document and checks every answer against it.
#
# Needs a running, seeded server (`qualityrate setup` + `qualityrate demo`) that takes no calls
# during the run (see the PUT note below), and:
#   QR_BASE_URL  e.g. http://127.0.0.1:18080
#   QR_TOKEN     an access token with `all` access for the seeded client (POST /oauth/token)
# Optional:
#   QR_CLIENT_ID              the seeded client's id: pins {client_id} of every operation but
#                             getClient to it, so generated requests reach the ratings, calls and
#                             client update instead of stopping at 404 (getClient keeps a generated
#                             {client_id}, so id parsing and the foreign-id 404 stay tested)
#   QR_SCHEMATHESIS_EXAMPLES  test cases per operation and phase (default 40)
#   QR_SCHEMATHESIS_SEED      seed, to replay a run exactly (default: random; the seed is printed)
#   QR_SCHEMATHESIS_REPORTS   directory for a JUnit report (default: none written)
#
# Exits non-zero on any failed check, on any error, or when schemathesis itself cannot run.
#
# Notes on what is and is not excluded:
# - /oauth/token is tested like every other operation. Generated credentials never match a real
#   application, so the fuzzer cannot mint, rotate or revoke the token this run uses; nothing needs
#   excluding. (Its 401 answers for made-up credentials are documented and expected.)
# - PUT /client/{client_id}/ changes the seeded client (name, time zone, rating notification URL).
#   The URL is only used when a new rating is stored, i.e. by a live call; the target server must
#   therefore be a scratch server that takes no calls during the run, so no notification is sent
#   to a generated address.
# - positive_data_acceptance is not run: schema-valid values the server rightly refuses with 400
#   exist by design — an unknown `after_id`/`after_call_uuid` paging cursor, a pattern-valid but
#   impossible date (`2023-02-30 10:00:00`) — and 422 for an unknown IANA time zone name.
# - use_after_free, ensure_resource_availability and object_level_authorization need create/delete
#   operations or a second tenant's credentials; this API surface has neither.
set -euo pipefail

: "${QR_BASE_URL:?set QR_BASE_URL, e.g. http://127.0.0.1:18080}"
: "${QR_TOKEN:?set QR_TOKEN to an access token from POST /oauth/token}"
base_url="${QR_BASE_URL%/}"
examples="${QR_SCHEMATHESIS_EXAMPLES:-40}"

if ! command -v schemathesis >/dev/null 2>&1; then
    echo "schemathesis is not installed: pip install 'schemathesis>=4,<5'" >&2
    exit 2
fi
version="$(schemathesis --version | grep -oE '[0-9]+\.[0-9]+\.[0-9]+' | head -n1)"
if [[ "${version%%.*}" != "4" ]]; then
    echo "schemathesis 4.x is needed, found ${version:-unknown}" >&2
    exit 2
fi

checks=(
    not_a_server_error           # no 5xx, ever
    status_code_conformance      # every status is documented for its operation
    content_type_conformance     # Content-Type is a documented media type
    response_schema_conformance  # bodies match their schemas (Rating, Client, CallHistory, Error…)
    response_headers_conformance # documented headers are present and valid (WWW-Authenticate on 401)
    negative_data_rejection      # schema-invalid input (bad ids, limits, dates, bodies) is refused with 4xx
    missing_required_header      # no Authorization header -> 401
    ignored_auth                 # protected operations really check the token
    unsupported_method           # a listed path with another method -> 405 with an Allow header
    allow_header_conformance     # Allow, where sent, matches the documented methods
)
checks_csv="$(IFS=,; echo "${checks[*]}")"

args=()
if [[ -n "${QR_CLIENT_ID:-}" ]]; then
    if ! [[ "$QR_CLIENT_ID" =~ ^[1-9][0-9]*$ ]]; then
        echo "QR_CLIENT_ID must be a positive integer, got '$QR_CLIENT_ID'" >&2
        exit 2
    fi
    config="$(mktemp --suffix=.toml)"
    trap 'rm -f "$config"' EXIT
    cat >"$config" <<EOF
[[operations]]
include-operation-id = ["updateClient", "listRatings", "getRating", "listCallHistory", "getCallHistory"]
parameters = { "path.client_id" = $QR_CLIENT_ID }
EOF
    args+=(--config-file "$config")
fi
args+=(
    run "$base_url/api/ver1.0/openapi.json"
    --url "$base_url"
    --header "Authorization: Bearer $QR_TOKEN"
    --checks "$checks_csv"
    --phases examples,coverage,fuzzing,stateful
    --max-examples "$examples"
    --workers 2
    --request-timeout 15
    --wait-for-schema 30
    --generation-database none
    --no-color
)
if [[ -n "${QR_SCHEMATHESIS_SEED:-}" ]]; then
    args+=(--seed "$QR_SCHEMATHESIS_SEED")
fi
if [[ -n "${QR_SCHEMATHESIS_REPORTS:-}" ]]; then
    mkdir -p "$QR_SCHEMATHESIS_REPORTS"
    args+=(--report junit --report-dir "$(cd "$QR_SCHEMATHESIS_REPORTS" && pwd)")
fi

# schemathesis and hypothesis keep state (.schemathesis/ with the cases `st replay` re-sends,
# .hypothesis/) in the working directory: keep it in the git-ignored artifacts folder.
workdir="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/artifacts/schemathesis"
mkdir -p "$workdir"
cd "$workdir"

# A hard ceiling so a hung server cannot stall CI; a normal run takes one to three minutes.
timeout --kill-after=10 600 schemathesis "${args[@]}"
