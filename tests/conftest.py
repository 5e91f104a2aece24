"""Make the test-only packages importable as top-level names.

The emulated API server is imported as ``kubeapi``, not ``tests.kubeapi``:
tinyrpc (a Ryu dependency) installs a top-level ``tests`` package into
site-packages that would shadow this directory.
"""

from __future__ import annotations

import sys
from pathlib import Path

_HERE = str(Path(__file__).resolve().parent)
if _HERE not in sys.path:
    sys.path.insert(0, _HERE)
