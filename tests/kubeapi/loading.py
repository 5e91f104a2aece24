"""Reading fixture objects from YAML or JSON (files, admin request bodies).

Why a module of its own: the CLI (``--load``), the admin API (``POST /_emulator/load``) and
the harness all accept the same inputs, multi-document YAML like
``shared/kube-ovn/samples.yaml`` (comments and ``status`` kept as given) or JSON (an
object, a list, or a ``kind: List``), and must agree on what they mean.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml

try:  # libyaml makes 100k-object fixtures load in seconds rather than minutes
    _Loader: type[Any] = yaml.CSafeLoader
except AttributeError:  # pragma: no cover - PyYAML built without libyaml
    _Loader = yaml.SafeLoader


def parse_documents(data: bytes | str, *, content_type: str = "") -> list[Any]:
    """Objects in ``data``: JSON if it says so (or looks like it), else multi-doc YAML."""
    text = data.decode() if isinstance(data, bytes) else data
    stripped = text.lstrip()
    if "json" in content_type or stripped.startswith(("[", "{")):
        try:
            parsed = json.loads(text)
        except ValueError:
            if "json" in content_type:
                raise
        else:
            return parsed if isinstance(parsed, list) else [parsed]
    return [doc for doc in yaml.load_all(text, Loader=_Loader) if doc is not None]


def load_file(path: str | Path) -> list[Any]:
    """Objects in a YAML or JSON file."""
    return parse_documents(Path(path).read_bytes())
