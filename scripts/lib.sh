# Shared by the scripts: install what is missing, never assume it is there.

apt_updated=0
ensure_apt() {
    local missing=()
    for package in "$@"; do
        dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing+=("$package")
    done
    [ ${#missing[@]} -eq 0 ] && return 0
    echo "installing Debian packages: ${missing[*]}" >&2
    if [ "$apt_updated" -eq 0 ]; then
        apt-get update -qq >&2
        apt_updated=1
    fi
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >&2
}

# ensure_pip MODULE PACKAGE[==VERSION] …: installs PACKAGE when `import MODULE` fails.
ensure_pip() {
    while [ $# -ge 2 ]; do
        if ! python3 -c "import $1" 2>/dev/null; then
            echo "installing Python package: $2" >&2
            python3 -m pip install --quiet --disable-pip-version-check "$2" >&2
        fi
        shift 2
    done
}

# Waits until URL answers, or fails after SECONDS.
wait_for_http() {
    local url=$1 seconds=${2:-60}
    for _ in $(seq 1 $((seconds * 10))); do
        curl -fsS -o /dev/null "$url" 2>/dev/null && return 0
        sleep 0.1
    done
    echo "no answer from $url after ${seconds}s" >&2
    return 1
}

# start_postgres DIR PORT: a throwaway PostgreSQL cluster of Debian's package in DIR (made by
# initdb, owned by the `postgres` system user, as the server refuses to run as root), listening
# on 127.0.0.1:PORT, its superuser `qualityrate` trusted on loopback. fsync is off: the cluster
# holds test data only. Sets QR_TEST_POSTGRES to its URL; stop it with stop_postgres DIR.
postgres_bin() { ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1; }
start_postgres() {
    local dir=$1 port=$2
    init_postgres "$dir" || return 1
    run_postgres "$dir" "$port" -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=400 || return 1
    export QR_TEST_POSTGRES="postgres://qualityrate@127.0.0.1:$port/postgres?sslmode=disable"
}
stop_postgres() {
    local dir=$1
    [ -d "$dir/data" ] && runuser -u postgres -- "$(postgres_bin)/pg_ctl" -D "$dir/data" -m immediate -w stop >/dev/null 2>&1
    rm -rf "$dir"
}

# start_bench_postgres DIR PORT: a PostgreSQL cluster for the benchmarks in DIR, made by initdb
# the first time and kept (with its data) between runs, listening on 127.0.0.1:PORT, superuser
# `qualityrate` trusted on loopback. Durable, unlike the tests' cluster: PostgreSQL's own
# defaults (fsync, synchronous_commit and full_page_writes on, shared_buffers 128 MB,
# max_connections 100), which are what a production server starts from. Sets BENCH_POSTGRES to
# the URL of its `postgres` database; stop it with stop_bench_postgres DIR.
start_bench_postgres() {
    local dir port=$2
    # Absolute: the server resolves its socket directory from inside its data directory.
    dir=$(realpath -m "$1")
    [ -f "$dir/data/PG_VERSION" ] || init_postgres "$dir" || return 1
    run_postgres "$dir" "$port" || return 1
    export BENCH_POSTGRES="postgres://qualityrate@127.0.0.1:$port/postgres?sslmode=disable"
}
stop_bench_postgres() {
    local dir=$1
    [ -d "$dir/data" ] && runuser -u postgres -- "$(postgres_bin)/pg_ctl" -D "$dir/data" -m fast -w stop >/dev/null 2>&1
    return 0
}

# init_postgres DIR: a new cluster in DIR/data owned by the `postgres` system user.
init_postgres() {
    local dir=$1
    ensure_apt postgresql
    local bin
    bin=$(postgres_bin)
    [ -x "$bin/initdb" ] || { echo "PostgreSQL's initdb not found under /usr/lib/postgresql" >&2; return 1; }
    mkdir -p "$dir"
    chown postgres: "$dir"
    runuser -u postgres -- "$bin/initdb" -D "$dir/data" -U qualityrate --auth=trust -E UTF8 --locale=C.UTF-8 >/dev/null
}

# run_postgres DIR PORT [-c SETTING=VALUE …]: starts the cluster in DIR/data on 127.0.0.1:PORT,
# its socket and log in DIR, with the settings given on top of the cluster's own.
run_postgres() {
    local dir=$1 port=$2
    shift 2
    runuser -u postgres -- "$(postgres_bin)/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 start -o \
        "-c listen_addresses=127.0.0.1 -p $port -k $dir $*" \
        >/dev/null || { cat "$dir/server.log" >&2; return 1; }
}
