"""The duration parser against Go's own test tables (go/src/time/time_test.go).

Drop-in means a duration the Go speaker took must mean the same here, to the
nanosecond, and one it refused must be refused (plain seconds excepted, which
is ryu-kovn's one documented extension).
"""

from __future__ import annotations

import pytest

from ryu_kovn.durations import (
    format_duration,
    format_duration_ns,
    parse_duration,
    parse_duration_ns,
)

NS = 1
US = 1_000
MS = 1_000_000
S = 1_000_000_000
M = 60 * S
H = 60 * M

GO_VALID = [
    # simple
    ("0", 0),
    ("5s", 5 * S),
    ("30s", 30 * S),
    ("1478s", 1478 * S),
    # sign
    ("-5s", -5 * S),
    ("+5s", 5 * S),
    ("-0", 0),
    ("+0", 0),
    # decimal
    ("5.0s", 5 * S),
    ("5.6s", 5 * S + 600 * MS),
    ("5.s", 5 * S),
    (".5s", 500 * MS),
    ("1.0s", 1 * S),
    ("1.00s", 1 * S),
    ("1.004s", 1 * S + 4 * MS),
    ("1.0040s", 1 * S + 4 * MS),
    ("100.00100s", 100 * S + 1 * MS),
    # every unit, both micro signs
    ("10ns", 10 * NS),
    ("11us", 11 * US),
    ("12\u00b5s", 12 * US),
    ("12\u03bcs", 12 * US),
    ("13ms", 13 * MS),
    ("14s", 14 * S),
    ("15m", 15 * M),
    ("16h", 16 * H),
    # composite, in any order
    ("3h30m", 3 * H + 30 * M),
    ("10.5s4m", 4 * M + 10 * S + 500 * MS),
    ("-2m3.4s", -(2 * M + 3 * S + 400 * MS)),
    ("1h2m3s4ms5us6ns", H + 2 * M + 3 * S + 4 * MS + 5 * US + 6 * NS),
    ("39h9m14.425s", 39 * H + 9 * M + 14 * S + 425 * MS),
    # large values and float-exactness cases Go pins down
    ("52763797000ns", 52763797000),
    ("0.3333333333333333333h", 20 * M),
    ("9007199254740993ns", (1 << 53) + 1),
    ("9223372036854775807ns", (1 << 63) - 1),
    ("9223372036854775.807us", (1 << 63) - 1),
    ("9223372036s854ms775us807ns", (1 << 63) - 1),
    ("-9223372036854775808ns", -(1 << 63)),
    ("-9223372036854775.808us", -(1 << 63)),
    ("-9223372036s854ms775us808ns", -(1 << 63)),
    ("-2562047h47m16.854775808s", -(1 << 63)),
    ("0.100000000000000000000h", 6 * M),
    ("0.830103483285477580700h", 49 * M + 48 * S + 372539827),
    # what kube-ovn's NAT-gateway controller writes for --holdtime
    ("1m0s", 60 * S),
    ("1h0m0s", H),
]

GO_INVALID = [
    "",
    "-",
    "s",
    ".",
    "-.",
    ".s",
    "+.s",
    "1d",
    "\x85\x85",
    "\xffff",
    "hello \xffff world",
    "\ufffd",
    "\ufffd hello \ufffd world",
    # overflow
    "9223372036854775810ns",
    "9223372036854775808ns",
    "-9223372036854775809ns",
    "9223372036854776us",
    "3000000h",
    "9223372036854775.808us",
    "9223372036854ms775us808ns",
    # the operator typos this parser exists to catch
    "90x",
    "1m-5s",
    "1m 30s",
    " 90s",
    "90s ",
    "1h2",
    "--1s",
    "1,5s",
    "1e3s",
    "MS",
    "1S",
]

PLAIN_SECONDS = [
    ("90", 90 * S),
    ("90.5", 90 * S + 500 * MS),
    ("90.", 90 * S),
    (".5", 500 * MS),
    ("00", 0),
    ("3", 3 * S),  # an error in Go: the one place this parser is laxer
]

NOT_PLAIN_SECONDS = ["-5", "+5", "1e3", "0x10", "90 ", "٩٠"]


@pytest.mark.parametrize(("text", "nanoseconds"), GO_VALID + PLAIN_SECONDS)
def test_accepts_what_go_accepts_plus_plain_seconds(text: str, nanoseconds: int) -> None:
    assert parse_duration_ns(text) == nanoseconds
    assert parse_duration(text) == nanoseconds / S


@pytest.mark.parametrize("text", GO_INVALID + NOT_PLAIN_SECONDS)
def test_refuses_what_go_refuses(text: str) -> None:
    with pytest.raises(ValueError) as caught:
        parse_duration(text)
    message = str(caught.value)
    assert repr(text) in message
    # The message teaches the syntax, so the operator need not look it up.
    assert "90s" in message and "1m30s" in message and "plain seconds" in message


@pytest.mark.parametrize(
    ("text", "why"),
    [
        ("90x", "unknown unit 'x'"),
        ("1m-5s", "unknown unit 'm-'"),
        ("1h2", "missing unit"),
        ("3000000h", "out of range"),
    ],
)
def test_says_what_is_wrong(text: str, why: str) -> None:
    with pytest.raises(ValueError, match=why):
        parse_duration(text)


def test_refuses_non_text() -> None:
    with pytest.raises(TypeError):
        parse_duration(90)  # type: ignore[arg-type]


GO_STRINGS = [
    ("0s", 0),
    ("1ns", 1),
    ("1.1\u00b5s", 1100),
    ("2.2ms", 2200 * US),
    ("3.3s", 3300 * MS),
    ("4m5s", 4 * M + 5 * S),
    ("4m5.001s", 4 * M + 5001 * MS),
    ("5h6m7.001s", 5 * H + 6 * M + 7001 * MS),
    ("8m0.000000001s", 8 * M + 1),
    ("2562047h47m16.854775807s", (1 << 63) - 1),
    ("-2562047h47m16.854775808s", -(1 << 63)),
]


@pytest.mark.parametrize(("text", "nanoseconds"), GO_STRINGS)
def test_formats_like_go(text: str, nanoseconds: int) -> None:
    assert format_duration_ns(nanoseconds) == text


@pytest.mark.parametrize(("text", "nanoseconds"), GO_STRINGS)
def test_what_go_prints_parses_back(text: str, nanoseconds: int) -> None:
    assert parse_duration_ns(text) == nanoseconds


@pytest.mark.parametrize(
    ("seconds", "text"),
    [(90, "1m30s"), (3600, "1h0m0s"), (360, "6m0s"), (1.5, "1.5s"), (0, "0s"), (0.25, "250ms")],
)
def test_format_duration_takes_seconds(seconds: float, text: str) -> None:
    assert format_duration(seconds) == text
