"""Build hook: ship ``ryu_kovn_startup.pth`` into site-packages.

Stock ``ryu-manager`` imports ``ryu.app.wsgi`` before it loads any application,
and that import fails on eventlet >= 0.30.3.  The only code that runs earlier is
a ``.pth`` file, so the wheel carries one that arms ``ryu_kovn.ryu_fixes.eventlet_wsgi``.
Everything else about the package is declared in setup.cfg.
"""

import os
import shutil

from setuptools import setup
from setuptools.command.build_py import build_py

PTH = "ryu_kovn_startup.pth"


class BuildPyWithStartupHook(build_py):
    def run(self) -> None:
        super().run()
        here = os.path.dirname(os.path.abspath(__file__))
        shutil.copy(os.path.join(here, PTH), os.path.join(self.build_lib, PTH))


setup(cmdclass={"build_py": BuildPyWithStartupHook})
