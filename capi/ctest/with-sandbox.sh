#!/usr/bin/env bash
# with-sandbox.sh BUILD_DIR COMMAND [ARGS...] - start a private sandbox (device
# codes polled every second, approved only through the admin API), export its
# startup JSON line as SECUCARD_SANDBOX, run COMMAND, stop the sandbox.
# Exits with COMMAND's status.
set -euo pipefail

build_dir="${1:?usage: with-sandbox.sh BUILD_DIR COMMAND...}"
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

"$sandbox" -http 127.0.0.1:0 -device-interval 1 -start-delay 20ms >"$work/sandbox.json" 2>"$work/sandbox.log" &
sb_pid=$!
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
export SECUCARD_SANDBOX

set +e
"$@"
status=$?
set -e
exit "$status"
