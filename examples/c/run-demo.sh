#!/usr/bin/env bash
# run-demo.sh BUILD_DIR PROGRAM - start a local sandbox (device codes approved
# after 2 s), write a config for it, run PROGRAM with the config file as its
# argument and the sandbox's startup line in SECUCARD_SANDBOX, stop the
# sandbox. Exits with PROGRAM's status.
set -euo pipefail

build_dir="${1:?usage: run-demo.sh BUILD_DIR PROGRAM}"
program="${2:?usage: run-demo.sh BUILD_DIR PROGRAM}"
sandbox="$build_dir/secucard-sandbox"
if [[ ! -x "$sandbox" ]]; then
    echo "run-demo.sh: $sandbox not found; run 'make sandbox' at the top of the repository" >&2
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

"$sandbox" -http 127.0.0.1:0 -stomp 127.0.0.1:0 -device-auto-approve 2s -device-interval 1 >"$work/sandbox.json" 2>"$work/sandbox.log" &
sb_pid=$!

# The sandbox prints one JSON line with its addresses once it listens.
for _ in $(seq 200); do
    [[ -s "$work/sandbox.json" ]] && break
    if ! kill -0 "$sb_pid" 2>/dev/null; then
        echo "run-demo.sh: the sandbox exited:" >&2
        cat "$work/sandbox.log" >&2
        exit 1
    fi
    sleep 0.05
done
line="$(head -n 1 "$work/sandbox.json")"
field() { sed -n "s/.*\"$1\":\"\\([^\"]*\\)\".*/\\1/p" <<<"$line"; }
sandbox_url="$(field sandbox_url)"
client_id="$(field client_id)"
client_secret="$(field client_secret)"
stomp_port="$(field stomp_addr)"
stomp_port="${stomp_port##*:}"
if [[ -z "$sandbox_url" || -z "$client_id" || -z "$client_secret" || -z "$stomp_port" ]]; then
    echo "run-demo.sh: unexpected sandbox output: $line" >&2
    exit 1
fi

cat >"$work/config.json" <<JSON
{"environment":"sandbox","sandbox_url":"$sandbox_url",
 "credentials":{"grant":"device","client_id":"$client_id","client_secret":"$client_secret",
                "device_uuid":"/vendor/libsecucard/pos/demo-1"},
 "stomp":{"enabled":true,"host":"127.0.0.1","port":$stomp_port,"tls":false}}
JSON

export SECUCARD_SANDBOX="$line"
set +e
"$program" "$work/config.json"
status=$?
set -e
exit "$status"
