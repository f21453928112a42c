#!/usr/bin/env bash
# build.sh - build libsecucard (the C shared library) into build/<os>-<arch>/.
#
#   ./build.sh                                   native build
#   GOOS=windows GOARCH=amd64 CC=x86_64-w64-mingw32-gcc ./build.sh
#   GOOS=linux GOARCH=arm64 CC=aarch64-linux-gnu-gcc ./build.sh
#
# Output (Linux):   libsecucard.so.<version>, libsecucard.so.<abi> -> it (the
#                   soname), libsecucard.so -> libsecucard.so.<abi>, secucard.h,
#                   secucard.pc (relocatable: it points at its own directory).
# Output (Windows): secucard.dll, secucard.h, secucard.pc.
# The version and ABI come from include/secucard.h, the one source of truth.
# cgo's generated header is deleted: include/secucard.h is the public one.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cd "$root"
export PATH="/usr/local/go/bin:${HOME}/go/bin:${PATH}"
GO="${GO:-go}"

header="include/secucard.h"
version="$(sed -n 's/^#define SECUCARD_VERSION[[:space:]]*"\([^"]*\)".*/\1/p' "$header")"
abi="$(sed -n 's/^#define SECUCARD_ABI_VERSION[[:space:]]*\([0-9][0-9]*\).*/\1/p' "$header")"
if [[ -z "$version" || -z "$abi" ]]; then
    echo "build.sh: cannot read SECUCARD_VERSION / SECUCARD_ABI_VERSION from $header" >&2
    exit 1
fi

goos="${GOOS:-$($GO env GOOS)}"
goarch="${GOARCH:-$($GO env GOARCH)}"
out="${BUILD_DIR:-build/${goos}-${goarch}}"
mkdir -p "$out"
out="$(cd "$out" && pwd)"

ldflags="-s -w -X github.com/libsecucard/libsecucard/core.version=${version}"
case "$goos" in
linux)
    lib="libsecucard.so.${version}" built="libsecucard.so"
    ldflags+=" -extldflags=-Wl,-soname,libsecucard.so.${abi}"
    ;;
windows)
    lib="secucard.dll" built="secucard.dll"
    # libgcc statically: the DLL must not need libgcc_s_seh-1.dll next to it.
    ldflags+=" -extldflags=-static-libgcc"
    ;;
*)
    echo "build.sh: GOOS=$goos is not supported (linux, windows)" >&2
    exit 1
    ;;
esac

# Build under a temporary name: cgo writes its header next to the output.
tmp="$(mktemp -d "$out/.build.XXXXXX")"
trap 'rm -rf "$tmp"' EXIT
CGO_ENABLED=1 GOOS="$goos" GOARCH="$goarch" \
    "$GO" build -buildmode=c-shared -trimpath -ldflags "$ldflags" -o "$tmp/$built" ./capi
mv -f "$tmp/$built" "$out/$lib"

if [[ "$goos" == linux ]]; then
    ln -sfn "$lib" "$out/libsecucard.so.${abi}"
    ln -sfn "libsecucard.so.${abi}" "$out/libsecucard.so"
fi
cp -f "$header" "$out/secucard.h"

cat > "$out/secucard.pc" <<PC
prefix=\${pcfiledir}
libdir=\${prefix}
includedir=\${prefix}

Name: libsecucard
Description: secucard connect payment client (C ABI ${abi})
Version: ${version}
Libs: -L\${libdir} -lsecucard
Cflags: -I\${includedir}
PC

echo "build.sh: $out/$lib (version $version, ABI $abi)"
