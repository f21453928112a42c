#!/usr/bin/env bash
# test-dist.sh DIST_DIR VERSION HOST_BUILD_DIR - the archives of `make dist`,
# used the way the README's "Install" section says:
#
#   SHA256SUMS matches every archive, and each Linux archive holds the
#   library under its soname with the symlinks, the header, secucard.pc and
#   the CMake package; the Windows zip the DLL, import library and .def;
#   examples/c configured with CMake (find_package(secucard) from the unpacked
#   host archive) and built, then `errors` run against a sandbox
#   (HOST_BUILD_DIR/secucard-sandbox) and `webhook` run without network;
#   examples/c built with its Makefile through pkg-config from the archive;
#   the same CMake build for linux-arm64 with the cross compiler, run under
#   qemu-user;
#   find_package refuses the 32-bit linux-arm package in a 64-bit project.
set -euo pipefail

dist="${1:?usage: test-dist.sh DIST_DIR VERSION HOST_BUILD_DIR}"
version="${2:?usage: test-dist.sh DIST_DIR VERSION HOST_BUILD_DIR}"
host_build="${3:?usage: test-dist.sh DIST_DIR VERSION HOST_BUILD_DIR}"
here="$(cd "$(dirname "$0")" && pwd)"
host="$(basename "$host_build")"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
passed=0

ok() {
    passed=$((passed + 1))
    echo "test-dist: ok - $*"
}

(cd "$dist" && sha256sum --check --quiet SHA256SUMS)
ok "SHA256SUMS matches $(wc -l <"$dist/SHA256SUMS") archives"

abi="$(sed -n 's/^#define SECUCARD_ABI_VERSION[[:space:]]*\([0-9]*\).*/\1/p' "$here/../../include/secucard.h")"
for t in linux-amd64 linux-arm64 linux-arm; do
    name="secucard-$version-$t"
    tar -C "$work" -xzf "$dist/$name.tar.gz"
    d="$work/$name"
    for f in secucard.h secucard.pc secucardConfig.cmake secucardConfigVersion.cmake "libsecucard.so.$version"; do
        [[ -f "$d/$f" ]] || { echo "test-dist: $name.tar.gz lacks $f" >&2; exit 1; }
    done
    [[ "$(readlink "$d/libsecucard.so.$abi")" == "libsecucard.so.$version" &&
        "$(readlink "$d/libsecucard.so")" == "libsecucard.so.$abi" ]] ||
        { echo "test-dist: $name.tar.gz: the soname symlinks are wrong" >&2; exit 1; }
    soname="$(readelf -d "$d/libsecucard.so.$version" | sed -n 's/.*(SONAME).*\[\(.*\)\]/\1/p')"
    [[ "$soname" == "libsecucard.so.$abi" ]] || { echo "test-dist: $name: soname '$soname'" >&2; exit 1; }
    ok "$name.tar.gz: library $version, soname $soname, symlinks, header, secucard.pc, CMake package"
done
unzip -q -d "$work" "$dist/secucard-$version-windows-amd64.zip"
for f in secucard.dll libsecucard.dll.a secucard.def secucard.h secucard.pc secucardConfig.cmake secucardConfigVersion.cmake; do
    [[ -f "$work/secucard-$version-windows-amd64/$f" ]] || { echo "test-dist: the windows zip lacks $f" >&2; exit 1; }
done
ok "secucard-$version-windows-amd64.zip: DLL, import library, .def, header, secucard.pc, CMake package"

# CMake, host: find_package from the unpacked archive only.
prefix="$work/secucard-$version-$host"
cmake -S "$here" -B "$work/cmake-host" -DCMAKE_PREFIX_PATH="$prefix" >"$work/cmake-host.log" 2>&1 ||
    { cat "$work/cmake-host.log" >&2; exit 1; }
cmake --build "$work/cmake-host" >>"$work/cmake-host.log" 2>&1 || { cat "$work/cmake-host.log" >&2; exit 1; }
grep -q "libsecucard.so" <(readelf -d "$work/cmake-host/errors") || { echo "test-dist: errors does not link libsecucard" >&2; exit 1; }
out="$(env -u LD_LIBRARY_PATH "$work/cmake-host/webhook")"
grep -q "Bitte Karte einstecken" <<<"$out" || { echo "test-dist: webhook (CMake build) printed: $out" >&2; exit 1; }
env -u LD_LIBRARY_PATH "$here/run-demo.sh" "$host_build" "$work/cmake-host/errors" >"$work/errors.log" 2>&1 ||
    { cat "$work/errors.log" >&2; echo "test-dist: errors (CMake build) failed" >&2; exit 1; }
ok "CMake: examples/c configured with find_package(secucard) from the $host archive, built, webhook and errors ran"

# Make + pkg-config, host.
make -s -C "$here" -f Makefile all BUILD_DIR="$prefix" PKG_CONFIG_PATH="$prefix" \
    OUTDIR="$work/make-host" >"$work/make.log" 2>&1 || { cat "$work/make.log" >&2; exit 1; }
out="$(env -u LD_LIBRARY_PATH "$work/make-host/webhook")"
grep -q "Bitte Karte einstecken" <<<"$out" || { echo "test-dist: webhook (Make build) printed: $out" >&2; exit 1; }
ok "Make: examples/c built with pkg-config from the $host archive, webhook ran"

# CMake, cross: the arm64 archive with the cross compiler, run under qemu-user.
if [[ "$host" != linux-arm64 ]]; then
    cmake -S "$here" -B "$work/cmake-arm64" -DCMAKE_PREFIX_PATH="$work/secucard-$version-linux-arm64" \
        -DCMAKE_SYSTEM_NAME=Linux -DCMAKE_SYSTEM_PROCESSOR=aarch64 -DCMAKE_C_COMPILER=aarch64-linux-gnu-gcc \
        -DCMAKE_FIND_ROOT_PATH_MODE_PACKAGE=NEVER >"$work/cmake-arm64.log" 2>&1 ||
        { cat "$work/cmake-arm64.log" >&2; exit 1; }
    cmake --build "$work/cmake-arm64" >>"$work/cmake-arm64.log" 2>&1 || { cat "$work/cmake-arm64.log" >&2; exit 1; }
    out="$(qemu-aarch64 -L /usr/aarch64-linux-gnu "$work/cmake-arm64/webhook")"
    grep -q "Bitte Karte einstecken" <<<"$out" || { echo "test-dist: webhook (arm64) printed: $out" >&2; exit 1; }
    ok "CMake: examples/c cross-built for linux-arm64 from its archive, webhook ran under qemu-aarch64"
fi

# The version file refuses a 32-bit package in a 64-bit project.
mkdir -p "$work/bits"
cat >"$work/bits/CMakeLists.txt" <<'CMAKE'
cmake_minimum_required(VERSION 3.16)
project(bits LANGUAGES C)
find_package(secucard REQUIRED)
CMAKE
if cmake -S "$work/bits" -B "$work/bits/build" -DCMAKE_PREFIX_PATH="$work/secucard-$version-linux-arm" >"$work/bits.log" 2>&1; then
    echo "test-dist: a 64-bit project accepted the 32-bit linux-arm package" >&2
    exit 1
fi
grep -q "32bit" "$work/bits.log" || { cat "$work/bits.log" >&2; exit 1; }
ok "CMake: a 64-bit project refuses the 32-bit linux-arm package"

echo "test-dist: $passed passed, 0 failed"
