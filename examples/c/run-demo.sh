#!/usr/bin/env bash
# run-demo.sh BUILD_DIR PROGRAM - run PROGRAM against a fresh local sandbox
# (device codes approved after 2 s, STOMP on), passing it a config file for a
# device-authorized till. Exits with PROGRAM's status.
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
build_dir="${1:?usage: run-demo.sh BUILD_DIR PROGRAM}"
program="${2:?usage: run-demo.sh BUILD_DIR PROGRAM}"

if [[ -z "${SECUCARD_SANDBOX:-}" ]]; then
    exec "$here/with-sandbox.sh" "$build_dir" -stomp 127.0.0.1:0 -device-auto-approve 2s -device-interval 1 \
        -- "$here/run-demo.sh" "$build_dir" "$program"
fi

# Inside the sandbox: turn its startup line into a client config.
line="$SECUCARD_SANDBOX"
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

config="$(mktemp)"
trap 'rm -f "$config"' EXIT
cat >"$config" <<JSON
{"environment":"sandbox","sandbox_url":"$sandbox_url",
 "credentials":{"grant":"device","client_id":"$client_id","client_secret":"$client_secret",
                "device_uuid":"/vendor/libsecucard/pos/demo-1"},
 "stomp":{"enabled":true,"host":"127.0.0.1","port":$stomp_port,"tls":false}}
JSON

set +e
"$program" "$config"
status=$?
set -e
exit "$status"
