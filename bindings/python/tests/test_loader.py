"""Finding and checking the library at import."""

import os
import re
import subprocess
import sys

import secucard
from secucard import _native

from conftest import BINDING, TOP

HEADER = os.path.join(TOP, "include", "secucard.h")


def header_functions():
    with open(HEADER, encoding="utf-8") as f:
        text = f.read()
    return set(re.findall(r"SECUCARD_API\s+[^;(]*?\b(secucard_\w+)\s*\(", text))


def test_table_declares_every_function_of_the_header():
    declared = set(_native.FUNCTIONS)
    assert header_functions() == declared


def test_abi_version_matches_header_and_library():
    with open(HEADER, encoding="utf-8") as f:
        macro = int(re.search(r"#define SECUCARD_ABI_VERSION\s+(\d+)", f.read()).group(1))
    assert secucard.ABI_VERSION == macro
    assert _native.lib.secucard_abi_version() == macro


def test_library_version_is_reported():
    assert re.fullmatch(r"\d+\.\d+\.\d+.*", secucard.library_version())
    assert os.path.samefile(secucard.library_path, os.environ["SECUCARD_LIBRARY"])


def import_in_subprocess(env_library):
    env = dict(os.environ, PYTHONPATH=os.path.join(BINDING, "src"))
    if env_library is None:
        env.pop("SECUCARD_LIBRARY", None)
    else:
        env["SECUCARD_LIBRARY"] = env_library
    return subprocess.run([sys.executable, "-c", "import secucard"], env=env,
                          capture_output=True, text=True, timeout=60)


def test_a_library_of_another_abi_is_refused_with_a_clear_message(tmp_path):
    src = tmp_path / "other_abi.c"
    src.write_text('int secucard_abi_version(void) { return 2; }\n'
                   'const char *secucard_version(void) { return "2.0.0"; }\n')
    lib = tmp_path / "libsecucard.so"
    subprocess.run(["gcc", "-shared", "-fPIC", "-o", str(lib), str(src)], check=True)
    proc = import_in_subprocess(str(lib))
    assert proc.returncode != 0
    assert "ImportError" in proc.stderr
    assert "ABI version 2" in proc.stderr
    assert "written for ABI version 1" in proc.stderr
    assert str(lib) in proc.stderr


def test_an_unloadable_secucard_library_is_named_in_the_error(tmp_path):
    missing = str(tmp_path / "nope" / "libsecucard.so")
    proc = import_in_subprocess(missing)
    assert proc.returncode != 0
    assert "ImportError" in proc.stderr
    assert missing in proc.stderr
    assert "SECUCARD_LIBRARY" in proc.stderr
