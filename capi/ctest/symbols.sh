#!/usr/bin/env bash
# symbols.sh LIBRARY HEADER - the library must export exactly the secucard_*
# functions the header declares: each missing or extra name is an error.
set -euo pipefail

lib="${1:?usage: symbols.sh LIBRARY HEADER}"
header="${2:?usage: symbols.sh LIBRARY HEADER}"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

# Declarations span lines: join the header, then take the name before "(" of
# every SECUCARD_API declaration.
tr '\n' ' ' <"$header" | grep -o 'SECUCARD_API[^;(]*(' | sed -E 's/.*[^A-Za-z0-9_](secucard_[A-Za-z0-9_]*)[[:space:]]*\($/\1/' |
    grep '^secucard_' | sort -u >"$work/header"
nm -D --defined-only "$lib" | awk '$2 == "T" {print $3}' | grep '^secucard_' | sort -u >"$work/library"

if [[ ! -s "$work/header" ]]; then
    echo "symbols.sh: no SECUCARD_API declarations found in $header" >&2
    exit 1
fi
missing="$(comm -23 "$work/header" "$work/library")"
extra="$(comm -13 "$work/header" "$work/library")"
if [[ -n "$missing" || -n "$extra" ]]; then
    [[ -n "$missing" ]] && echo "declared in $header but not exported by $lib:" $missing >&2
    [[ -n "$extra" ]] && echo "exported by $lib but not declared in $header:" $extra >&2
    exit 1
fi
echo "symbols.sh: $(wc -l <"$work/header") functions, header and library agree"
