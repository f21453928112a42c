#!/usr/bin/env bash
# with-sandbox.sh BUILD_DIR [SANDBOX FLAGS...] -- COMMAND [ARGS...]
#
# Starts a private secucard-sandbox on loopback (port 0) with the given flags,
# exports its startup JSON line as SECUCARD_SANDBOX (rest_url, oauth_url,
# stomp_addr, admin_url, client_id, client_secret, sandbox_url), runs COMMAND,
# and stops the sandbox however COMMAND ends. Exits with COMMAND's status.
# Example: ./with-sandbox.sh ../../build/linux-amd64 -stomp 127.0.0.1:0 -- ./my-till
set -euo pipefail

usage="usage: with-sandbox.sh BUILD_DIR [SANDBOX FLAGS...] -- COMMAND [ARGS...]"
build_dir="${1:?$usage}"
shift
flags=()
while (($#)) && [[ "$1" != "--" ]]; do
    flags+=("$1")
    shift
done
[[ "${1:-}" == "--" && $# -ge 2 ]] || { echo "$usage" >&2; exit 2; }
shift

sandbox="$build_dir/secucard-sandbox"
if [[ ! -x "$sandbox" ]]; then
    echo "with-sandbox.sh: $sandbox not found; run 'make sandbox' at the top of the repository" >&2
    exit 1
fi

work="$(mktemp -d)"
sb_pid=""
cleanup() {
    if [[ -n "$sb_pid" ]]; then
        kill "$sb_pid" 2>/dev/null || true
        wait "$sb_pid" 2>/dev/null || true
    fi
    rm -rf "$work"
}
trap cleanup EXIT

"$sandbox" -http 127.0.0.1:0 ${flags[@]+"${flags[@]}"} >"$work/sandbox.json" 2>"$work/sandbox.log" &
sb_pid=$!

# The sandbox prints exactly one JSON line once it listens.
for _ in $(seq 200); do
    [[ -s "$work/sandbox.json" ]] && break
    if ! kill -0 "$sb_pid" 2>/dev/null; then
        echo "with-sandbox.sh: the sandbox exited:" >&2
        cat "$work/sandbox.log" >&2
        exit 1
    fi
    sleep 0.05
done
SECUCARD_SANDBOX="$(head -n 1 "$work/sandbox.json")"
[[ -n "$SECUCARD_SANDBOX" ]] || { echo "with-sandbox.sh: the sandbox printed nothing within 10 s" >&2; exit 1; }
export SECUCARD_SANDBOX

set +e
"$@"
status=$?
set -e
exit "$status"
