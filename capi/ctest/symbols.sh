#!/usr/bin/env bash
# symbols.sh LIBRARY HEADER - the library (an ELF .so of any architecture, or a
# Windows DLL) must export exactly the secucard_* functions the header
# declares: each missing or extra name is an error.
set -euo pipefail

lib="${1:?usage: symbols.sh LIBRARY HEADER}"
header="${2:?usage: symbols.sh LIBRARY HEADER}"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

# Declarations span lines: join the header, then take the name before "(" of
# every SECUCARD_API declaration.
tr '\n' ' ' <"$header" | grep -o 'SECUCARD_API[^;(]*(' | sed -E 's/.*[^A-Za-z0-9_](secucard_[A-Za-z0-9_]*)[[:space:]]*\($/\1/' |
    grep '^secucard_' | sort -u >"$work/header"
# The exports: an ELF library's defined dynamic functions (readelf reads any
# architecture's ELF), a PE DLL's export table (objdump -p).
case "$(head -c 4 "$lib" | od -An -c | tr -d ' ')" in
177ELF)
    readelf -W --dyn-syms "$lib" | awk '$4 == "FUNC" && $7 != "UND" {sub(/@.*/, "", $8); print $8}' ;;
MZ*)
    objdump -p "$lib" | sed -n '/^\[Ordinal\/Name Pointer\] Table/,/^$/s/^[[:space:]]*\[[[:space:]]*[0-9]*\][[:space:]]*//p' ;;
*)
    echo "symbols.sh: $lib is neither an ELF library nor a PE DLL" >&2
    exit 1 ;;
esac | grep '^secucard_' | sort -u >"$work/library" || true

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
