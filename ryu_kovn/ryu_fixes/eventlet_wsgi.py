"""Make stock ``ryu-manager`` importable on current eventlet.

Ryu 4.34's ``ryu/app/wsgi.py`` does ``from eventlet.wsgi import ALREADY_HANDLED``
at import time.  eventlet removed that name in 0.30.3, and older eventlet does
not run on Python 3.11, so ``ryu-manager`` dies before it loads any app.

``ryu_kovn_startup.pth`` (installed into site-packages by setup.py) calls
:func:`arm` at interpreter start.  Arming costs one entry in ``sys.meta_path``:
nothing is imported until something imports ``eventlet.wsgi``, and then the
missing name is put back right after the real module has run.  Ryu only uses the
name for WebSocket responses, which ryu-kovn does not serve.

Delete this module (and the .pth) the day Ryu stops importing the name.
"""

from __future__ import annotations

import importlib.abc
import importlib.machinery
import sys
from types import ModuleType

_TARGET = "eventlet.wsgi"


def _restore_already_handled(module: ModuleType) -> None:
    if not hasattr(module, "ALREADY_HANDLED"):
        # An empty iterable: if it is ever returned to the WSGI server, it
        # writes an empty body instead of failing.
        module.ALREADY_HANDLED = ()


class _PatchingLoader(importlib.abc.Loader):
    def __init__(self, real: importlib.abc.Loader) -> None:
        self._real = real

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> ModuleType | None:
        return self._real.create_module(spec)

    def exec_module(self, module: ModuleType) -> None:
        self._real.exec_module(module)
        _restore_already_handled(module)


class _EventletWsgiFinder(importlib.abc.MetaPathFinder):
    def find_spec(self, fullname, path, target=None):  # type: ignore[no-untyped-def]
        if fullname != _TARGET:
            return None
        for finder in sys.meta_path:
            if finder is self or not hasattr(finder, "find_spec"):
                continue
            spec = finder.find_spec(fullname, path, target)
            if spec is not None and spec.loader is not None:
                spec.loader = _PatchingLoader(spec.loader)
                return spec
        return None


def arm() -> None:
    """Install the import hook once; patch at once if eventlet.wsgi is loaded."""
    loaded = sys.modules.get(_TARGET)
    if loaded is not None:
        _restore_already_handled(loaded)
        return
    if not any(isinstance(f, _EventletWsgiFinder) for f in sys.meta_path):
        sys.meta_path.insert(0, _EventletWsgiFinder())
