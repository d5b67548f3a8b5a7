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
