"""Reply encoding for RESP2 and RESP3.

Hot commands build their replies from the constants and `bulk`/`integer`; everything
else goes through `encode`, which maps Python values onto RESP types: dict -> map,
set -> set, float -> double, None -> null, Status -> simple string, Verbatim -> verbatim
text (each flattened the way Redis does under RESP2).
"""

from __future__ import annotations

from ..engine.record import format_float

OK = b"+OK\r\n"
PONG = b"+PONG\r\n"
QUEUED = b"+QUEUED\r\n"
ZERO = b":0\r\n"
ONE = b":1\r\n"
EMPTY_ARRAY = b"*0\r\n"
NULL = {2: b"$-1\r\n", 3: b"_\r\n"}
NULL_ARRAY = {2: b"*-1\r\n", 3: b"_\r\n"}
EMPTY_MAP = {2: b"*0\r\n", 3: b"%0\r\n"}


class Status(str):
    """A simple-string reply (+text)."""


class Verbatim(str):
    """Text that RESP3 sends as a verbatim string (=len txt:...), RESP2 as a bulk."""


class ErrorReply(str):
    """An error as one element of an aggregate (EXEC results)."""


def bulk(value: bytes) -> bytes:
    return b"$%d\r\n%s\r\n" % (len(value), value)


def integer(value: int) -> bytes:
    return b":%d\r\n" % value


def error(text: str) -> bytes:
    return (
        b"-" + text.encode("utf-8", "replace").replace(b"\r", b" ").replace(b"\n", b" ") + b"\r\n"
    )


def double(value: float, proto: int) -> bytes:
    text = format_float(value).encode()
    if proto == 3:
        return b",%s\r\n" % text
    return bulk(text)


def array(items: list[bytes]) -> bytes:
    """An array of already-encoded elements."""
    return b"*%d\r\n%s" % (len(items), b"".join(items))


def bulk_array(values: list[bytes]) -> bytes:
    return b"*%d\r\n%s" % (len(values), b"".join(b"$%d\r\n%s\r\n" % (len(v), v) for v in values))


def encode(value: object, proto: int) -> bytes:
    """Any reply value, typed for the connection's protocol."""
    out: list[bytes] = []
    _encode(value, proto, out)
    return b"".join(out)


def _encode(value: object, proto: int, out: list[bytes]) -> None:
    cls = value.__class__
    if cls is bytes:
        out.append(b"$%d\r\n%s\r\n" % (len(value), value))  # type: ignore[arg-type]
    elif cls is int:
        out.append(b":%d\r\n" % value)  # type: ignore[str-format]
    elif cls is str:
        raw = value.encode()  # type: ignore[attr-defined]
        out.append(b"$%d\r\n%s\r\n" % (len(raw), raw))
    elif value is None:
        out.append(NULL[proto])
    elif cls is bool:
        out.append((b"#t\r\n" if value else b"#f\r\n") if proto == 3 else (ONE if value else ZERO))
    elif cls is float:
        out.append(double(value, proto))  # type: ignore[arg-type]
    elif cls is list or cls is tuple:
        out.append(b"*%d\r\n" % len(value))  # type: ignore[arg-type]
        for item in value:  # type: ignore[attr-defined]
            _encode(item, proto, out)
    elif cls is dict:
        if proto == 3:
            out.append(b"%%%d\r\n" % len(value))  # type: ignore[arg-type]
        else:
            out.append(b"*%d\r\n" % (2 * len(value)))  # type: ignore[arg-type]
        for k, v in value.items():  # type: ignore[attr-defined]
            _encode(k, proto, out)
            _encode(v, proto, out)
    elif cls is set or cls is frozenset:
        out.append((b"~%d\r\n" if proto == 3 else b"*%d\r\n") % len(value))  # type: ignore[arg-type]
        for item in value:  # type: ignore[attr-defined]
            _encode(item, proto, out)
    elif cls is Status:
        out.append(b"+%s\r\n" % value.encode())  # type: ignore[attr-defined]
    elif cls is Verbatim:
        raw = value.encode()  # type: ignore[attr-defined]
        if proto == 3:
            out.append(b"=%d\r\ntxt:%s\r\n" % (len(raw) + 4, raw))
        else:
            out.append(b"$%d\r\n%s\r\n" % (len(raw), raw))
    elif cls is ErrorReply:
        out.append(error(value))  # type: ignore[arg-type]
    elif cls is bytearray or cls is memoryview:
        _encode(bytes(value), proto, out)  # type: ignore[arg-type]
    else:
        raise TypeError(f"cannot encode {cls.__name__} as a reply")
