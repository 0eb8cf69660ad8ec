"""Argument parsing shared by command handlers, with Redis's error texts."""

from __future__ import annotations

import math
import re
from decimal import Decimal, InvalidOperation
from functools import lru_cache

from ...engine.record import INT64_MAX, INT64_MIN, parse_int
from ...errors import NOT_FLOAT, NOT_INTEGER, SYNTAX, RedisError


def to_int(value: bytes, text: str = NOT_INTEGER) -> int:
    number = parse_int(value)
    if number is None:
        raise RedisError(text)
    return number


def to_float(value: bytes, text: str = NOT_FLOAT) -> float:
    """Redis's strtod-based parser: no NaN, no leading space, nothing trailing."""
    if not value or value[:1].isspace():
        raise RedisError(text)
    try:
        number = float(value)
    except ValueError:
        try:
            number = float.fromhex(value.decode())
        except (ValueError, UnicodeDecodeError):
            raise RedisError(text) from None
    if math.isnan(number) or b"_" in value:
        raise RedisError(text)
    return number


def to_decimal(value: bytes, text: str = NOT_FLOAT) -> Decimal:
    """Like `to_float` but exact, for INCRBYFLOAT arithmetic."""
    if not value or value[:1].isspace() or b"_" in value or len(value) > 5000:
        raise RedisError(text)
    try:
        number = Decimal(value.decode("ascii"))
    except (InvalidOperation, UnicodeDecodeError):
        try:
            number = Decimal(float.fromhex(value.decode()))
        except (ValueError, UnicodeDecodeError):
            raise RedisError(text) from None
    if number.is_nan():
        raise RedisError(text)
    return number


def format_decimal(value: Decimal) -> bytes:
    """Redis's LD_STR_HUMAN: 17 decimals, trailing zeros (and a bare '.') removed."""
    text = f"{value:.17f}"
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    if text == "-0":
        text = "0"
    return text.encode()


def in_int64(value: int) -> bool:
    return INT64_MIN <= value <= INT64_MAX


def upper(arg: bytes) -> bytes:
    return arg.upper()


def syntax_error() -> RedisError:
    return RedisError(SYNTAX)


# --- glob patterns (Redis's stringmatchlen) ---------------------------------------------


@lru_cache(maxsize=256)
def glob_matcher(pattern: bytes, nocase: bool = False):
    """A compiled matcher for a Redis glob: * ? [abc] [^a] [a-z] and \\ escapes."""
    out = []
    i, n = 0, len(pattern)
    while i < n:
        c = pattern[i : i + 1]
        if c == b"*":
            out.append(b".*")
        elif c == b"?":
            out.append(b".")
        elif c == b"\\" and i + 1 < n:
            i += 1
            out.append(re.escape(pattern[i : i + 1]))
        elif c == b"[":
            i += 1
            negate = i < n and pattern[i : i + 1] == b"^"
            if negate:
                i += 1
            parts = []
            while i < n and pattern[i : i + 1] != b"]":
                ch = pattern[i : i + 1]
                if ch == b"\\" and i + 1 < n:
                    i += 1
                    parts.append(re.escape(pattern[i : i + 1]))
                elif i + 2 < n and pattern[i + 1 : i + 2] == b"-":
                    lo, hi = pattern[i], pattern[i + 2]
                    if lo > hi:
                        lo, hi = hi, lo
                    parts.append(re.escape(bytes([lo])) + b"-" + re.escape(bytes([hi])))
                    i += 2
                else:
                    parts.append(re.escape(ch))
                i += 1
            body = b"".join(parts)
            if not body:
                out.append(b"(?!)" if not negate else b".")
            else:
                out.append(b"[" + (b"^" if negate else b"") + body + b"]")
        else:
            out.append(re.escape(c))
        i += 1
    flags = re.DOTALL | (re.IGNORECASE if nocase else 0)
    return re.compile(b"".join(out) + b"\\Z", flags).match


def match_all(_: bytes) -> bool:
    return True


def scan_options(args: list[bytes], start: int, allow_type: bool) -> tuple[object, int, bytes | None]:
    """[MATCH pattern] [COUNT count] [TYPE type] -> (matcher, count, type)."""
    matcher = match_all
    count = 10
    kind = None
    i = start
    while i < len(args):
        opt = args[i].upper()
        if i + 1 >= len(args):
            raise syntax_error()
        if opt == b"MATCH":
            pattern = args[i + 1]
            matcher = match_all if pattern == b"*" else glob_matcher(pattern)
        elif opt == b"COUNT":
            count = to_int(args[i + 1])
            if count < 1:
                raise syntax_error()
        elif opt == b"TYPE" and allow_type:
            kind = args[i + 1].lower()
        else:
            raise syntax_error()
        i += 2
    return matcher, count, kind
