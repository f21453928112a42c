"""Makes the wheel a platform wheel that carries libsecucard, and stamps the
version.

The library is not a Python extension, so the tag is py3-none-<platform>. The
platform comes from SECUCARD_PLAT_NAME (set by the Makefile from the build
directory, so a cross-built library gets the right tag; auditwheel then turns
linux_* into the manylinux tag the library's glibc symbol versions allow).

The version is the one of include/secucard.h (SECUCARD_VERSION): the Makefile
passes it as SECUCARD_VERSION; a build straight from the source tree reads the
header. It is written into the package as secucard/_version.py.
"""

from __future__ import annotations

import os
import re

from setuptools import Distribution, setup
from setuptools.command.bdist_wheel import bdist_wheel
from setuptools.command.build_py import build_py

HEADER = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "include", "secucard.h")


def version() -> str:
    stamped = os.environ.get("SECUCARD_VERSION")
    if stamped:
        return stamped
    with open(HEADER, encoding="utf-8") as f:
        match = re.search(r'^#define SECUCARD_VERSION\s+"([^"]+)"', f.read(), re.M)
    if not match:
        raise RuntimeError(f"SECUCARD_VERSION not found in {HEADER}")
    return match.group(1)


class NativeDistribution(Distribution):
    """Installs into platlib, so the wheel's root is the platform part."""

    def has_ext_modules(self) -> bool:
        return True


class PlatformWheel(bdist_wheel):
    def finalize_options(self) -> None:
        plat = os.environ.get("SECUCARD_PLAT_NAME")
        if plat:
            self.plat_name = plat
        super().finalize_options()

    def get_tag(self) -> tuple[str, str, str]:
        _, _, plat = super().get_tag()
        return "py3", "none", plat


class StampVersion(build_py):
    def run(self) -> None:
        super().run()
        path = os.path.join(self.build_lib, "secucard", "_version.py")
        with open(path, "w", encoding="utf-8") as f:
            f.write(f'"""Written by setup.py from include/secucard.h."""\n\nversion = "{self.distribution.get_version()}"\n')


setup(
    version=version(),
    distclass=NativeDistribution,
    cmdclass={"bdist_wheel": PlatformWheel, "build_py": StampVersion},
)
