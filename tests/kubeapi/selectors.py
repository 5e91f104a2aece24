"""Label and field selectors, parsed and matched the way kube-apiserver does.

Why exact semantics matter here: a speaker that watches ``spec.nodeName=node-a`` or a label
selector relies on the server to *filter* and to turn "stopped matching" into DELETED. Small
differences (``a!=b`` matching objects without label ``a``; ``spec.hostNetwork=false``
matching pods without the key) decide whether a route is withdrawn, so they are copied from
k8s.io/apimachinery ``labels.Parse`` and ``fields.ParseSelector`` rather than guessed.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

# Qualified label key (optional DNS prefix + name) and label value, as in apimachinery.
_KEY = r"(?:[A-Za-z0-9](?:[-A-Za-z0-9_.]*[A-Za-z0-9])?/)?[A-Za-z0-9](?:[-A-Za-z0-9_.]*[A-Za-z0-9])?"
_VALUE = r"(?:(?:[A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?"
_KEY_RE = re.compile(rf"^{_KEY}$")
_VALUE_RE = re.compile(rf"^{_VALUE}$")
_SET_RE = re.compile(rf"^\s*({_KEY})\s+(in|notin)\s*\((.*)\)\s*$")
_OP_RE = re.compile(rf"^\s*({_KEY})\s*(==|=|!=|>|<)\s*(\S*)\s*$")
_EXISTS_RE = re.compile(rf"^\s*({_KEY})\s*$")
_NOT_EXISTS_RE = re.compile(rf"^\s*!\s*({_KEY})\s*$")


class SelectorError(ValueError):
    """A selector the real server would refuse with 400 BadRequest."""


@dataclass(frozen=True)
class Requirement:
    """One comma-separated term of a label selector."""

    key: str
    op: str  # "=", "!=", "in", "notin", "exists", "!", ">", "<"
    values: tuple[str, ...] = ()

    def matches(self, labels: Mapping[str, str]) -> bool:
        present = self.key in labels
        value = labels.get(self.key)
        if self.op == "exists":
            return present
        if self.op == "!":
            return not present
        if self.op in ("=", "in"):
            return present and value in self.values
        if self.op in ("!=", "notin"):
            # As in apimachinery: objects without the key match "!=" and "notin".
            return not present or value not in self.values
        # ">" / "<": both sides must be integers, else no match.
        try:
            number = int(str(value))
        except (TypeError, ValueError):
            return False
        bound = int(self.values[0])
        return number > bound if self.op == ">" else number < bound


def _split_top_level(text: str) -> list[str]:
    """Split on commas that are not inside the parentheses of an in/notin set."""
    parts: list[str] = []
    depth = 0
    current: list[str] = []
    for char in text:
        if char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
        if char == "," and depth == 0:
            parts.append("".join(current))
            current = []
        else:
            current.append(char)
    parts.append("".join(current))
    return parts


class LabelSelector:
    """A parsed ``labelSelector``; the empty selector matches everything."""

    def __init__(self, requirements: tuple[Requirement, ...] = ()) -> None:
        self.requirements = requirements

    @classmethod
    def parse(cls, text: str | None) -> LabelSelector:
        if text is None or not text.strip():
            return cls()
        reqs: list[Requirement] = []
        for raw in _split_top_level(text):
            if not raw.strip():
                raise SelectorError(f"unable to parse requirement: empty term in {text!r}")
            reqs.append(cls._parse_requirement(raw))
        return cls(tuple(reqs))

    @staticmethod
    def _parse_requirement(raw: str) -> Requirement:
        if m := _SET_RE.match(raw):
            values = tuple(v.strip() for v in m.group(3).split(",") if v.strip())
            for value in values:
                if not _VALUE_RE.match(value):
                    raise SelectorError(f"invalid label value: {value!r}")
            if not values and m.group(2) == "in":
                raise SelectorError(f"for 'in' operator, values set can't be empty: {raw!r}")
            return Requirement(m.group(1), m.group(2), values)
        if m := _NOT_EXISTS_RE.match(raw):
            return Requirement(m.group(1), "!")
        if m := _OP_RE.match(raw):
            key, op, value = m.group(1), m.group(2), m.group(3)
            if op == "==":
                op = "="
            if op in (">", "<"):
                if not re.fullmatch(r"-?\d+", value):
                    raise SelectorError(f"for '{op}' operator, the value must be an integer")
            elif not _VALUE_RE.match(value):
                raise SelectorError(f"invalid label value: {value!r}")
            return Requirement(key, op, (value,))
        if m := _EXISTS_RE.match(raw):
            return Requirement(m.group(1), "exists")
        raise SelectorError(f"unable to parse requirement: {raw.strip()!r}")

    @property
    def empty(self) -> bool:
        return not self.requirements

    def matches(self, obj: Mapping[str, Any]) -> bool:
        if not self.requirements:
            return True
        labels = (obj.get("metadata") or {}).get("labels") or {}
        return all(req.matches(labels) for req in self.requirements)


def _split_unescaped(text: str, sep: str) -> list[str]:
    """Split a field selector on ``sep`` honouring backslash escapes, as fields.ParseSelector."""
    parts: list[str] = []
    current: list[str] = []
    escaped = False
    for char in text:
        if escaped:
            current.append("\\" + char)
            escaped = False
        elif char == "\\":
            escaped = True
        elif char == sep:
            parts.append("".join(current))
            current = []
        else:
            current.append(char)
    if escaped:
        raise SelectorError("invalid field selector: trailing backslash")
    parts.append("".join(current))
    return parts


def _unescape(value: str) -> str:
    out: list[str] = []
    chars = iter(value)
    for char in chars:
        if char == "\\":
            nxt = next(chars, "")
            if nxt not in ("\\", ",", "="):
                raise SelectorError(f"invalid field selector value escape: \\{nxt}")
            out.append(nxt)
        else:
            out.append(char)
    return "".join(out)


def _find_operator(term: str) -> tuple[int, str]:
    """Position and text of the first unescaped ``!=``, ``==`` or ``=`` in a term."""
    i = 0
    while i < len(term):
        char = term[i]
        if char == "\\":
            i += 2
            continue
        if term.startswith("!=", i):
            return i, "!="
        if term.startswith("==", i):
            return i, "=="
        if char == "=":
            return i, "="
        i += 1
    return -1, ""


class FieldSelector:
    """A parsed ``fieldSelector`` (``=``, ``==``, ``!=`` terms, AND-ed)."""

    def __init__(self, terms: tuple[tuple[str, str, str], ...] = ()) -> None:
        self.terms = terms

    @classmethod
    def parse(cls, text: str | None, allowed: frozenset[str] | None = None) -> FieldSelector:
        """Parse; a label outside ``allowed`` is refused as the real server refuses it."""
        if text is None or not text.strip():
            return cls()
        terms: list[tuple[str, str, str]] = []
        for raw in _split_unescaped(text, ","):
            term = raw.strip()
            op_at, op = _find_operator(term)
            if op_at <= 0:
                raise SelectorError(f"invalid selector: '{text}'; can't understand '{term}'")
            field = term[:op_at].strip()
            value = _unescape(term[op_at + len(op):].strip())
            op = "=" if op == "==" else op
            if allowed is not None and field not in allowed:
                raise SelectorError(f'field label not supported: {field}')
            terms.append((field, op, value))
        return cls(tuple(terms))

    @property
    def empty(self) -> bool:
        return not self.terms

    def single_value(self, field: str) -> str | None:
        """The value of an equality term on ``field``, if any (used to narrow scans)."""
        for name, op, value in self.terms:
            if name == field and op == "=":
                return value
        return None

    def matches(self, obj: Mapping[str, Any],
                value_of: Callable[[Mapping[str, Any], str], str]) -> bool:
        for field, op, value in self.terms:
            actual = value_of(obj, field)
            if (actual == value) != (op == "="):
                return False
        return True
