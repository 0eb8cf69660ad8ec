"""Argument parsing shared by command handlers, with Redis's error texts."""

from __future__ import annotations

import math
import re
from decimal import Decimal
from functools import lru_cache

from ...engine.record import INT64_MAX, INT64_MIN, parse_int
from ...errors import (
    MUST_BE_POSITIVE,
    NOT_FLOAT,
    NOT_INTEGER,
    NOT_SYMMETRIC_INT64,
    SYNTAX,
    RedisError,
)


def to_int(value: bytes, text: str = NOT_INTEGER) -> int:
    number = parse_int(value)
    if number is None:
        raise RedisError(text)
    return number


def to_count(value: bytes) -> int:
    """The optional count of LPOP/RPOP, SPOP, ZPOPMIN/ZPOPMAX: an integer >= 0."""
    number = parse_int(value)
    if number is None or number < 0:
        raise RedisError(MUST_BE_POSITIVE)
    return number


def to_signed_count(value: bytes) -> int:
    """A count whose sign picks a direction (SRANDMEMBER, HRANDFIELD, LPOS RANK): Redis
    negates it, so INT64_MIN is refused."""
    number = to_int(value)
    if number == INT64_MIN:
        raise RedisError(NOT_SYMMETRIC_INT64)
    return number


# What C's strtod/strtold accept as a whole string (Redis's string2d/string2ld then reject
# leading space, trailing bytes, NaN and out-of-range values). Python's float() and Decimal
# are more lenient ('1_0', surrounding spaces) and float.fromhex takes hex without '0x'.
_DECIMAL_FLOAT = re.compile(rb"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?\Z")
_HEX_FLOAT = re.compile(
    rb"[+-]?0[xX](?:[0-9a-fA-F]+\.?[0-9a-fA-F]*|\.[0-9a-fA-F]+)(?:[pP][+-]?\d+)?\Z"
)
_INFINITY = re.compile(rb"[+-]?(?:inf|infinity)\Z", re.IGNORECASE)
MAX_LONG_DOUBLE_CHARS = 5 * 1024
# long double (x87 80-bit) range: larger magnitudes overflow and smaller ones underflow,
# which strtold reports with ERANGE and Redis rejects.
_LDBL_MAX = Decimal("1.18973149535723176502e4932")
_LDBL_TRUE_MIN = Decimal("3.64519953188247460253e-4951")


def to_float(value: bytes, text: str = NOT_FLOAT) -> float:
    """Redis's string2d (strtod): no NaN, no spaces, nothing trailing, no overflow."""
    if _DECIMAL_FLOAT.match(value):
        number = float(value)
        if math.isinf(number) or (number == 0 and _nonzero(value)):
            raise RedisError(text)
        return number
    if _HEX_FLOAT.match(value):
        try:
            number = float.fromhex(value.decode())
        except (ValueError, OverflowError):
            raise RedisError(text) from None
        return number
    if _INFINITY.match(value):
        return float("-inf") if value[:1] == b"-" else float("inf")
    raise RedisError(text)


def _nonzero(value: bytes) -> bool:
    mantissa = re.split(rb"[eEpP]", value, maxsplit=1)[0]
    return any(48 < ch <= 57 for ch in mantissa)


def to_decimal(value: bytes, text: str = NOT_FLOAT) -> Decimal:
    """Like Redis's string2ld (strtold) but exact, for INCRBYFLOAT arithmetic."""
    if not value or len(value) >= MAX_LONG_DOUBLE_CHARS:
        raise RedisError(text)
    if _DECIMAL_FLOAT.match(value):
        number = Decimal(value.decode("ascii"))
        magnitude = abs(number)
        if magnitude > _LDBL_MAX or (magnitude and magnitude < _LDBL_TRUE_MIN):
            raise RedisError(text)
        return number
    if _HEX_FLOAT.match(value):
        try:
            return Decimal(float.fromhex(value.decode()))
        except (ValueError, OverflowError):
            raise RedisError(text) from None
    if _INFINITY.match(value):
        return Decimal("-Infinity") if value[:1] == b"-" else Decimal("Infinity")
    raise RedisError(text)


def format_decimal(value: Decimal) -> bytes:
    """Redis's LD_STR_HUMAN: 17 decimals, trailing zeros (and a bare '.') removed."""
    text = f"{value:.17f}"
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    if text == "-0":
        text = "0"
    return text.encode()


_CURSOR = re.compile(rb"([+-]?)(\d*)\Z")
INVALID_CURSOR = "ERR invalid cursor"


def parse_cursor(arg: bytes) -> int:
    """A SCAN cursor as Redis's parseScanCursorOrReply reads it (strtoul): an unsigned
    64-bit number; '' is 0, '-1' wraps to 2**64-1; spaces or other bytes are an error."""
    nul = arg.find(b"\0")
    if nul >= 0:  # a C string ends there
        arg = arg[:nul]
    m = _CURSOR.match(arg)
    if m is None or (m.group(1) and not m.group(2)):
        raise RedisError(INVALID_CURSOR)
    if not m.group(2):
        return 0
    number = int(m.group(2))
    if number >= 1 << 64:
        raise RedisError(INVALID_CURSOR)
    return (-number) % (1 << 64) if m.group(1) == b"-" else number


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


def scan_options(
    args: list[bytes], start: int, allow_type: bool
) -> tuple[object, int, bytes | None]:
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
