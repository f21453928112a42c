"""Makes the wheel a platform wheel: it carries libsecucard, a native library.

The library is not a Python extension, so the tag is py3-none-<platform>. The
platform comes from SECUCARD_PLAT_NAME (set by the Makefile from the build
directory, so a cross-built library gets the right tag) or from this machine.
"""

import os

from setuptools import Distribution, setup
from wheel.bdist_wheel import bdist_wheel


class NativeDistribution(Distribution):
    """Installs into platlib, so the wheel's root is the platform part."""

    def has_ext_modules(self):
        return True


class PlatformWheel(bdist_wheel):
    def finalize_options(self):
        plat = os.environ.get("SECUCARD_PLAT_NAME")
        if plat:
            self.plat_name = plat
        super().finalize_options()

    def get_tag(self):
        _, _, plat = super().get_tag()
        return "py3", "none", plat


setup(distclass=NativeDistribution, cmdclass={"bdist_wheel": PlatformWheel})
