"""The wheel: built offline by `make wheel`, installed into a fresh venv, and
running the README's example with the library the wheel bundles."""

import os
import re
import subprocess
import sys

from conftest import BINDING, TOP


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
    wheels = tmp_path / "wheels"
    run(["make", "-s", "-C", BINDING, "wheel", f"BUILD_DIR={os.environ['SECUCARD_BUILD_DIR']}",
         f"PYTHON={python}", f"WHEEL_DIR={wheels}"])
    (wheel,) = wheels.glob("secucard-*.whl")
    assert re.fullmatch(r"secucard-0\.1\.0-py3-none-(linux|win|macosx)_\w+\.whl", wheel.name)
    assert not wheel.name.endswith("-any.whl")

    venv = tmp_path / "venv"
    run([python, "-m", "venv", str(venv)])
    vpython = str(venv / "bin" / "python")
    run([vpython, "-m", "pip", "install", "--quiet", "--no-index", str(wheel)])

    env = {k: v for k, v in os.environ.items() if k not in ("SECUCARD_LIBRARY", "PYTHONPATH")}
    env.update(SECUCARD_SANDBOX_URL=sandbox.url, SECUCARD_CLIENT_ID=sandbox.client_id,
               SECUCARD_CLIENT_SECRET=sandbox.client_secret)
    where = run([vpython, "-c", "import secucard; print(secucard.library_path)"],
                env=env, cwd=tmp_path).stdout.strip()
    assert where.startswith(str(venv)), f"loaded {where}, not the bundled library"

    script = tmp_path / "example.py"
    script.write_text(readme_example())
    out = run([vpython, str(script)], env=env, cwd=tmp_path).stdout
    assert re.search(r"^(paid: ok|declined: failed)$", out, re.M), out
    assert "9,40 EUR" in out, out  # the receipt, formatted by the bundled library
