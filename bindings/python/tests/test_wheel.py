"""The host's wheel (built by `make python-wheel` before the suite runs, with
auditwheel's manylinux tag): installed into a fresh venv without network and
used from outside the source tree, without SECUCARD_LIBRARY, running the
README's example with the library the wheel bundles."""

import glob
import os
import platform
import re
import subprocess
import sys

from conftest import BINDING, TOP


def header_version():
    with open(os.path.join(TOP, "include", "secucard.h"), encoding="utf-8") as f:
        return re.search(r'#define SECUCARD_VERSION\s+"([^"]+)"', f.read()).group(1)


def host_wheel(version):
    """The one wheel of this version for this machine in SECUCARD_WHEEL_DIR."""
    arch = {"x86_64": "x86_64", "aarch64": "aarch64", "armv7l": "armv7l"}[platform.machine()]
    pattern = os.path.join(os.environ["SECUCARD_WHEEL_DIR"], f"secucard-{version}-py3-none-*_{arch}.whl")
    wheels = glob.glob(pattern)
    assert len(wheels) == 1, f"expected one wheel matching {pattern} (make python-wheel), found {wheels}"
    return wheels[0]


def readme_example():
    with open(os.path.join(TOP, "README.md"), encoding="utf-8") as f:
        text = f.read()
    section = text.split("\n## Python\n", 1)[1].split("\n## ", 1)[0]
    match = re.search(r"```python\n(.*?)```", section, re.S)
    assert match, "the README's Python section has no python example"
    return match.group(1)


def run(cmd, **kwargs):
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=300, **kwargs)
    assert proc.returncode == 0, f"{cmd}: rc {proc.returncode}\n{proc.stdout}\n{proc.stderr}"
    return proc


def test_wheel_installs_into_a_venv_and_runs_the_readme_example(sandbox, tmp_path):
    python = os.environ.get("PYTHON", sys.executable)
    version = header_version()
    wheel = host_wheel(version)
    name = os.path.basename(wheel)
    # auditwheel's tag from the library's real glibc symbol versions, never the bare linux_ tag.
    assert re.fullmatch(rf"secucard-{re.escape(version)}-py3-none-manylinux_2_\d+_\w+\.whl", name), name

    venv = tmp_path / "venv"
    run([python, "-m", "venv", str(venv)])
    vpython = str(venv / "bin" / "python")
    run([vpython, "-m", "pip", "install", "--quiet", "--no-index", "--disable-pip-version-check", wheel])

    env = {k: v for k, v in os.environ.items() if k not in ("SECUCARD_LIBRARY", "PYTHONPATH")}
    env.update(SECUCARD_SANDBOX_URL=sandbox.url, SECUCARD_CLIENT_ID=sandbox.client_id,
               SECUCARD_CLIENT_SECRET=sandbox.client_secret)
    probe = (
        "import importlib.metadata, os, secucard\n"
        "print(secucard.library_path)\n"
        "print(secucard.__version__, importlib.metadata.version('secucard'), secucard.library_version())\n"
        "print(os.path.isfile(os.path.join(os.path.dirname(secucard.__file__), 'py.typed')))\n"
    )
    where, versions, typed = run([vpython, "-c", probe], env=env, cwd=tmp_path).stdout.splitlines()
    assert where.startswith(str(venv)), f"loaded {where}, not the bundled library"
    assert not where.startswith(BINDING)
    assert versions.split() == [version] * 3, versions
    assert typed == "True", "py.typed is missing from the installed package"

    script = tmp_path / "example.py"
    script.write_text(readme_example())
    out = run([vpython, str(script)], env=env, cwd=tmp_path).stdout
    assert re.search(r"^(paid: ok|declined: failed)$", out, re.M), out
    assert "9,40 EUR" in out, out  # the receipt, formatted by the bundled library
