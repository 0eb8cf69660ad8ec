"""Request parsing: hiredis on the fast path, an exact Python parser for everything else.

hiredis parses replies, not requests, so it neither enforces Redis's limits nor reads
inline commands. The fast path feeds it only traffic that cannot hit a limit (no count or
length header of suspicious size, no non-bulk element types) and tracks the last point
where the stream was between commands. Anything else (inline commands, huge headers,
partial commands piling up, hiredis errors) is re-parsed from that point by `SlowParser`,
which follows Redis's processInlineBuffer/processMultibulkBuffer byte for byte, errors
and limits included. Once its buffer drains, the connection returns to the fast path.
"""

from __future__ import annotations

import re

import hiredis

INLINE_MAX = 64 * 1024  # PROTO_INLINE_MAX_SIZE
INT_MAX = (1 << 31) - 1
QUERY_BUFFER_LIMIT = 1 << 30  # client-query-buffer-limit
UNCLEAN_LIMIT = 64 * 1024  # partial data the fast path may hold before switching

# Anything that could be a header past a limit (counts >= 10^6, lengths >= 10^8, a
# negative length) or a RESP type other than '$' after a CRLF. False positives (such bytes
# inside a value) only send that chunk down the exact path.
_SUSPECT = re.compile(rb"\*\d{7}|\$\d{9}|\$-|\r\n[:+,#_%~(!=>|]")


class ProtocolError(Exception):
    """Redis closes the connection after replying with this text."""


class RequestReader:
    """Turns received bytes into argument lists. Call `feed`, then `get` until None."""

    def __init__(self, max_bulk: int = 512 << 20):
        self.max_bulk = max_bulk
        self.fast = True
        self._hiredis = hiredis.Reader()
        self._ready: list[list[bytes]] = []
        self._slow: SlowParser | None = None
        # Bytes fed to hiredis since the last known command boundary, and how many
        # commands hiredis has returned from them.
        self._unclean: list[bytes] = []
        self._unclean_size = 0
        self._unclean_done = 0
        self._tail = b""

    def feed_fast(self, data: bytes) -> bool:
        """Hand `data` to hiredis if the fast path can take it; False = use `feed`."""
        if not self.fast or data[:1] != b"*" and not self._unclean:
            return False
        probe = self._tail + data[:16] if self._tail else data
        if _SUSPECT.search(probe) or (probe is not data and _SUSPECT.search(data)):
            return False
        self._hiredis.feed(data)
        self._tail = data[-16:]
        return True

    def end_fast(self, data: bytes, done: int, last: list[bytes] | None) -> None:
        """Record where the stream stands after `done` commands were read from `data`."""
        if last is not None and data[-2:] == b"\r\n" and _ends_with(self._unclean, data, last):
            if self._unclean:
                self._unclean.clear()
                self._unclean_size = self._unclean_done = 0
            return
        if not self._unclean:
            self._unclean_done = 0
        self._unclean.append(data)
        self._unclean_size += len(data)
        self._unclean_done += done
        if self._unclean_size > UNCLEAN_LIMIT:
            self._to_slow(b"", done_now=0)

    def fast_failed(self, data: bytes, done: int) -> None:
        """hiredis rejected `data` after returning `done` commands from it: re-parse exactly."""
        if not self._unclean:
            self._unclean_done = 0
        self._unclean.append(data)
        self._unclean_done += done
        self._to_slow(b"", done_now=0)

    def _to_slow(self, data: bytes, done_now: int) -> None:
        replay = b"".join(self._unclean) + data
        skip = self._unclean_done + done_now
        self._unclean.clear()
        self._unclean_size = self._unclean_done = 0
        self._hiredis = hiredis.Reader()
        self._tail = b""
        self.fast = False
        self._slow = SlowParser(self.max_bulk)
        self._slow.feed(replay)
        for _ in range(skip):
            if self._slow.next() is None:
                break

    def feed(self, data: bytes) -> None:
        """The exact path."""
        if self.fast:
            self._to_slow(data, 0)
        else:
            assert self._slow is not None
            self._slow.feed(data)

    def get(self) -> list[bytes] | None:
        """Next command from the exact path (raises ProtocolError where Redis would)."""
        assert self._slow is not None
        cmd = self._slow.next()
        if cmd is None and self._slow.empty():
            self.fast = True
            self._slow = None
        return cmd

    def gets(self):
        return self._hiredis.gets


def _ends_with(prefix: list[bytes], data: bytes, last: list[bytes]) -> bool:
    """Whether the stream (prefix chunks + data) ends exactly after the command `last`."""
    tail = last[-1]
    if not data.endswith(tail + b"\r\n") and len(data) > len(tail) + 2:
        return False
    encoded = encode_command(last)
    if len(encoded) <= len(data):
        return data.endswith(encoded)
    return (b"".join(prefix) + data).endswith(encoded)


def encode_command(args: list[bytes]) -> bytes:
    return b"*%d\r\n" % len(args) + b"".join(b"$%d\r\n%s\r\n" % (len(a), a) for a in args)


class SlowParser:
    """Redis's request parser in Python: inline and multibulk, with its limits and texts."""

    def __init__(self, max_bulk: int):
        self.max_bulk = max_bulk
        self.buf = bytearray()
        self.pos = 0
        self.args: list[bytes] = []
        self.multibulk = 0  # elements still to read in the current command
        self.bulk = -1  # length of the bulk being read, -1 = read its header first
        self.kind = 0  # 0 unknown, 1 inline, 2 multibulk

    def feed(self, data: bytes) -> None:
        if self.pos > 65536 and self.pos * 2 > len(self.buf):
            del self.buf[: self.pos]
            self.pos = 0
        self.buf += data
        if len(self.buf) - self.pos > QUERY_BUFFER_LIMIT:
            raise ProtocolError("ERR Protocol error: query buffer exceeds the limit")

    def empty(self) -> bool:
        return self.pos >= len(self.buf) and self.kind == 0

    def next(self) -> list[bytes] | None:
        while self.pos < len(self.buf):
            if self.kind == 0:
                self.kind = 2 if self.buf[self.pos] == 42 else 1
            cmd = self._inline() if self.kind == 1 else self._multibulk()
            if cmd is None:
                return None
            self.kind = 0
            if cmd:
                return cmd
        return None

    def _inline(self) -> list[bytes] | None:
        buf = self.buf
        nl = buf.find(b"\n", self.pos)
        if nl < 0:
            if len(buf) - self.pos > INLINE_MAX:
                raise ProtocolError("ERR Protocol error: too big inline request")
            return None
        line = bytes(buf[self.pos : nl])
        if line.endswith(b"\r"):
            line = line[:-1]
        self.pos = nl + 1
        args = split_inline(line)
        if args is None:
            raise ProtocolError("ERR Protocol error: unbalanced quotes in request")
        return args

    def _line(self, what: str) -> bytes | None:
        buf = self.buf
        cr = buf.find(b"\r", self.pos)
        if cr < 0:
            if len(buf) - self.pos > INLINE_MAX:
                raise ProtocolError(f"ERR Protocol error: too big {what} count string")
            return None
        if cr + 1 >= len(buf):
            return None
        line = bytes(buf[self.pos + 1 : cr])
        self.pos = cr + 2
        return line

    def _multibulk(self) -> list[bytes] | None:
        buf = self.buf
        if self.multibulk == 0:
            start = self.pos
            line = self._line("mbulk")
            if line is None:
                return None
            count = string2ll(line)
            if count is None or count > INT_MAX:
                self.pos = start
                raise ProtocolError("ERR Protocol error: invalid multibulk length")
            if count <= 0:
                return []
            self.multibulk = count
            self.args = []
        while self.multibulk:
            if self.bulk < 0:
                if self.pos >= len(buf):
                    return None
                if buf[self.pos] != 36:
                    got = chr(buf[self.pos])
                    raise ProtocolError(f"ERR Protocol error: expected '$', got '{got}'")
                line = self._line("bulk")
                if line is None:
                    return None
                length = string2ll(line)
                if length is None or length < 0 or length > self.max_bulk:
                    raise ProtocolError("ERR Protocol error: invalid bulk length")
                self.bulk = length
            if len(buf) - self.pos < self.bulk + 2:
                return None
            self.args.append(bytes(buf[self.pos : self.pos + self.bulk]))
            self.pos += self.bulk + 2
            self.bulk = -1
            self.multibulk -= 1
        args, self.args = self.args, []
        return args


def string2ll(text: bytes) -> int | None:
    """Redis's strict integer parser (no '+', no leading zeros, no spaces, 64-bit)."""
    if not 0 < len(text) < 21:
        return None
    if text == b"0":
        return 0
    digits = text[1:] if text[:1] == b"-" else text
    if not digits or not digits.isdigit() or digits[0] == 48:
        return None
    value = int(text)
    if not -(1 << 63) <= value < (1 << 63):
        return None
    return value


_ESCAPES = {ord("n"): 10, ord("r"): 13, ord("t"): 9, ord("b"): 8, ord("a"): 7}
_HEX = b"0123456789abcdefABCDEF"


def split_inline(line: bytes) -> list[bytes] | None:
    """Redis's sdssplitargs: spaces separate, "..." with escapes, '...' with \\' only.

    None means unbalanced quotes (or a closing quote not followed by a space).
    """
    args: list[bytes] = []
    i, n = 0, len(line)
    while True:
        while i < n and line[i] in b" \n\r\t\v\f":
            i += 1
        if i >= n:
            return args
        current = bytearray()
        in_dq = in_sq = False
        while True:
            if in_dq:
                if i >= n:
                    return None
                c = line[i]
                if c == 92 and i + 3 < n and line[i + 1] == 120 and line[i + 2] in _HEX and line[i + 3] in _HEX:
                    current.append(int(line[i + 2 : i + 4], 16))
                    i += 3
                elif c == 92 and i + 1 < n:
                    i += 1
                    current.append(_ESCAPES.get(line[i], line[i]))
                elif c == 34:
                    if i + 1 < n and line[i + 1] not in b" \n\r\t\v\f":
                        return None
                    in_dq = False
                    i += 1
                    break
                else:
                    current.append(c)
            elif in_sq:
                if i >= n:
                    return None
                c = line[i]
                if c == 92 and i + 1 < n and line[i + 1] == 39:
                    i += 1
                    current.append(39)
                elif c == 39:
                    if i + 1 < n and line[i + 1] not in b" \n\r\t\v\f":
                        return None
                    in_sq = False
                    i += 1
                    break
                else:
                    current.append(c)
            else:
                if i >= n:
                    break
                c = line[i]
                if c in b" \n\r\t\v\f":
                    break
                if c == 34:
                    in_dq = True
                elif c == 39:
                    in_sq = True
                else:
                    current.append(c)
            i += 1
        args.append(bytes(current))
