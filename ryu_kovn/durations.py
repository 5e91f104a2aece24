"""Durations as kube-ovn's Go speaker reads and prints them.

The drop-in promise (shared SPEC) means every duration a user ever gave
``kube-ovn-speaker`` must mean the same here.  kube-ovn's NAT-gateway controller
writes ``--holdtime`` with Go's ``Duration.String()`` (``1m0s``), and users write
whatever ``time.ParseDuration`` took.  So :func:`parse_duration` is a line by
line port of Go's ``time.ParseDuration`` (go/src/time/format.go), including its
integer nanosecond arithmetic, and :func:`format_duration` a port of
``Duration.String()``.

One extension, because INI files and older configs say ``holdtime = 90``: a
bare non-negative decimal number is seconds.  It uses Go's number syntax
(``90``, ``90.5``, ``.5``, ``90.``) with no sign, so ``-5`` stays an error rather
than silently becoming a negative duration.
"""

from __future__ import annotations

import re

__all__ = ["format_duration", "parse_duration"]

_NS = 1
_US = 1_000 * _NS
_MS = 1_000 * _US
_S = 1_000 * _MS
_M = 60 * _S
_H = 60 * _M

# Both micro signs are accepted because Go accepts both: U+00B5 (what Go
# prints) and U+03BC (what people type on a Greek keyboard).
_UNITS = {
    "ns": _NS,
    "us": _US,
    "\u00b5s": _US,
    "\u03bcs": _US,
    "ms": _MS,
    "s": _S,
    "m": _M,
    "h": _H,
}

# Go's Duration is an int64 of nanoseconds; its parser works in uint64 and
# checks against 1<<63 so that the most negative duration still parses.
_LIMIT = 1 << 63

_PLAIN_SECONDS = re.compile(r"(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)\Z")

_HINT = (
    "a valid duration is a Go duration such as 90s, 1m30s, 1h0m0s or 1.5h "
    "(units ns, us, ms, s, m, h) or plain seconds such as 90"
)


def _invalid(text: str, why: str) -> ValueError:
    return ValueError(f"invalid duration {text!r}: {why}; {_HINT}")


def _leading_int(s: str) -> tuple[int, str]:
    """Consume ``[0-9]*``; overflow is an error, as in Go's ``leadingInt``."""
    x = 0
    i = 0
    while i < len(s) and "0" <= s[i] <= "9":
        if x > _LIMIT // 10:
            raise OverflowError
        x = x * 10 + ord(s[i]) - ord("0")
        if x > _LIMIT:
            raise OverflowError
        i += 1
    return x, s[i:]


def _leading_fraction(s: str) -> tuple[int, float, str]:
    """Consume ``[0-9]*`` after a dot; extra digits only lose precision."""
    x = 0
    scale = 1.0
    overflow = False
    i = 0
    while i < len(s) and "0" <= s[i] <= "9":
        if not overflow:
            if x > (_LIMIT - 1) // 10:
                overflow = True
            else:
                y = x * 10 + ord(s[i]) - ord("0")
                if y > _LIMIT:
                    overflow = True
                else:
                    x = y
                    scale *= 10
        i += 1
    return x, scale, s[i:]


def _parse_go_nanoseconds(orig: str) -> int:
    s = orig
    neg = False
    if s and s[0] in "+-":
        neg = s[0] == "-"
        s = s[1:]
    # Go's special case: a lone zero needs no unit.
    if s == "0":
        return 0
    if not s:
        raise _invalid(orig, "no number")
    total = 0
    while s:
        if not (s[0] == "." or "0" <= s[0] <= "9"):
            raise _invalid(orig, f"expected a number at {s!r}")
        before = len(s)
        try:
            whole, s = _leading_int(s)
        except OverflowError:
            raise _invalid(orig, "out of range") from None
        pre = len(s) != before
        frac, scale, post = 0, 1.0, False
        if s.startswith("."):
            s = s[1:]
            before = len(s)
            frac, scale, s = _leading_fraction(s)
            post = len(s) != before
        if not pre and not post:
            raise _invalid(orig, "a dot without digits")
        # The unit is everything up to the next number, so `1m-5s` has the
        # unit "m-" and `1 s` the unit " s": both unknown, as in Go.
        i = 0
        while i < len(s) and not (s[i] == "." or "0" <= s[i] <= "9"):
            i += 1
        if i == 0:
            raise _invalid(orig, "missing unit")
        unit_text, s = s[:i], s[i:]
        unit = _UNITS.get(unit_text)
        if unit is None:
            raise _invalid(orig, f"unknown unit {unit_text!r}")
        if whole > _LIMIT // unit:
            raise _invalid(orig, "out of range")
        value = whole * unit
        if frac > 0:
            # Go computes this in float64 and truncates; doing the same keeps
            # results identical to the nanosecond.
            value += int(float(frac) * (float(unit) / scale))
            if value > _LIMIT:
                raise _invalid(orig, "out of range")
        total += value
        if total > _LIMIT:
            raise _invalid(orig, "out of range")
    if neg:
        return -total
    if total > _LIMIT - 1:
        raise _invalid(orig, "out of range")
    return total


def parse_duration_ns(text: str) -> int:
    """Parse like :func:`parse_duration`, returning exact integer nanoseconds."""
    if not isinstance(text, str):
        raise TypeError(f"a duration is text, not {type(text).__name__}")
    if _PLAIN_SECONDS.match(text):
        return _parse_go_nanoseconds(text + "s")
    return _parse_go_nanoseconds(text)


def parse_duration(text: str) -> float:
    """Return the duration in seconds.

    Accepts exactly what Go's ``time.ParseDuration`` accepts (``90s``,
    ``1m30s``, ``1h0m0s``, ``1.5h``, ``-2m``, ``0``), plus plain non-negative
    seconds (``90``, ``90.5``).  Anything else raises :class:`ValueError` whose
    message shows what a valid duration looks like.
    """
    return parse_duration_ns(text) / _S


def _format_fraction(value: int, digits: int) -> tuple[str, int]:
    """Split off ``digits`` decimal places, dropping trailing zeros as Go does."""
    whole, frac = divmod(value, 10**digits)
    text = f"{frac:0{digits}d}".rstrip("0")
    return (f".{text}" if text else ""), whole


def format_duration_ns(nanoseconds: int) -> str:
    """Go's ``Duration.String()`` for an integer number of nanoseconds."""
    sign = "-" if nanoseconds < 0 else ""
    u = abs(nanoseconds)
    if u == 0:
        return "0s"
    if u < _S:
        if u < _US:
            return f"{sign}{u}ns"
        digits, unit = (3, "\u00b5s") if u < _MS else (6, "ms")
        frac, whole = _format_fraction(u, digits)
        return f"{sign}{whole}{frac}{unit}"
    frac, secs = _format_fraction(u, 9)
    text = f"{secs % 60}{frac}s"
    minutes = secs // 60
    if minutes:
        text = f"{minutes % 60}m{text}"
        hours = minutes // 60
        if hours:
            text = f"{hours}h{text}"
    return sign + text


def format_duration(seconds: float) -> str:
    """Render seconds the way Go prints a Duration (``90`` -> ``1m30s``)."""
    if isinstance(seconds, int):
        return format_duration_ns(seconds * _S)
    return format_duration_ns(round(seconds * _S))
