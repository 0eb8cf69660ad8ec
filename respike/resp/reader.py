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
HISTORY_LIMIT = 16 * 1024  # bytes the fast path keeps for a replay before checking where it is

# A multibulk count of 10^7 or more: hiredis would preallocate a list that large, so such
# chunks go down the exact path (which, like Redis, grows argv as elements arrive).
_BIG_COUNT = re.compile(rb"\*\d{7}")
# A bulk length of 10^8 or more in a chunk that ends inside a command: hiredis would wait
# for it, Redis answers at once when it is past proto-max-bulk-len.
_BIG_BULK = re.compile(rb"\$\d{9}")
_NOT_BULK = re.compile(rb"\r\n[+=]")


class ProtocolError(Exception):
    """Redis closes the connection after replying with this text."""


class RequestReader:
    """Turns received bytes into argument lists.

    The connection calls `feed_fast(data)`; if it returns True it takes commands from
    `hiredis.gets()` and then reports with `end_fast` (or `fast_failed` on a hiredis error
    or a non-bulk element); otherwise it calls `feed(data)` and takes commands from `get()`.

    The fast path keeps the chunks fed to hiredis since the last point known to be between
    two commands, so the exact path can replay from there. Whether the stream is between
    commands now is only worked out when it matters (a chunk that does not start with '*',
    or the history growing past HISTORY_LIMIT), not for every chunk.
    """

    def __init__(self, max_bulk: int = 512 << 20):
        self.max_bulk = max_bulk
        # A proto-max-bulk-len below 10^8: bulk headers as long as the limit (or longer)
        # go down the exact path, which enforces it (hiredis would take any length).
        self._low_limit = (
            re.compile(rb"\$\d{%d}" % len(b"%d" % max_bulk)) if max_bulk < 10**8 else None
        )
        self.fast = True
        self.hiredis = hiredis.Reader()
        self._slow: SlowParser | None = None
        self._history: list[bytes] = []
        self._history_size = 0
        self._history_done = 0  # commands hiredis returned from the history
        self._history_last: list[bytes] | None = None  # the last one, if its chunk had one
        self._clean_end = True

    def feed_fast(self, data: bytes) -> bool:
        """Hand `data` to hiredis if the fast path can take it; False = use `feed`."""
        if not self.fast:
            return False
        first = data[:1]
        if first != b"*" and self.at_boundary():
            return False  # an inline command
        if data.find(b"*", 1) < 0:
            if first == b"*" and not 0 < data.find(b"\r") < 8:
                return False
        elif _BIG_COUNT.search(data):
            return False
        # A header split between the previous chunk and this one: only possible when the
        # previous chunk did not end right after a command.
        seam = self._history and not self._clean_end
        if seam and _BIG_COUNT.search(self._history[-1][-8:] + data[:8]):
            return False
        # hiredis returns a '+simple' or '=verbatim' element as bytes, like a bulk string;
        # Redis refuses them ("expected '$'"), so such chunks go down the exact path.
        # (Most chunks hold neither byte; `int in bytes` is a memchr, `bytes in bytes` costs
        # ten times more.)
        if (
            (43 in data or 61 in data)
            and (first == b"+" or first == b"=" or _NOT_BULK.search(data))
        ) or (seam and _NOT_BULK.search(self._history[-1][-2:] + data[:2])):
            return False
        if self._low_limit is not None and (
            self._low_limit.search(data)
            or (seam and self._low_limit.search(self._history[-1][-12:] + data[:12]))
        ):
            return False
        self.hiredis.feed(data)
        return True

    def end_fast(self, data: bytes, done: int, last: list[bytes] | None) -> None:
        """Note that hiredis returned `done` commands (the last one `last`) from `data`."""
        self._history.append(data)
        self._history_size += len(data)
        self._history_done += done
        self._history_last = last if done else None
        pending = self.hiredis.has_data()
        # Probably between commands (a command ended the chunk and hiredis holds nothing);
        # `at_boundary` makes sure when it matters.
        self._clean_end = done > 0 and not pending
        if pending and (
            _BIG_BULK.search(data)
            or _BIG_BULK.search(
                self._history[-2][-10:] + data[:10] if len(self._history) > 1 else b""
            )
        ):
            self._to_slow(b"")
        elif self._history_size > HISTORY_LIMIT:
            if self.at_boundary():
                self._forget()
            elif self._history_size > 4 * HISTORY_LIMIT:
                self._to_slow(b"")

    def at_boundary(self) -> bool:
        """Whether everything fed so far ends exactly after a complete command."""
        if not self._history:
            return True
        last = self._history_last
        if last is None or self.hiredis.has_data():
            return False
        if _ends_with(b"".join(self._history), last):
            self._forget()
            return True
        return False

    def _forget(self) -> None:
        self._history.clear()
        self._history_size = self._history_done = 0
        self._history_last = None

    def fast_failed(self, data: bytes, done: int) -> None:
        """hiredis rejected `data` after returning `done` commands from it: re-parse exactly."""
        self._history.append(data)
        self._history_done += done
        self._to_slow(b"")

    def _to_slow(self, data: bytes) -> None:
        replay = b"".join(self._history) + data
        skip = self._history_done
        self._forget()
        self.hiredis = hiredis.Reader()
        self.fast = False
        self._slow = SlowParser(self.max_bulk)
        self._slow.feed(replay)
        try:
            for _ in range(skip):  # already executed
                if self._slow.next() is None:
                    break
        except ProtocolError as exc:  # hiredis was laxer than Redis about those commands
            self._slow.failed = exc

    def feed(self, data: bytes) -> None:
        """The exact path."""
        if self.fast:
            self._to_slow(data)
        else:
            assert self._slow is not None
            self._slow.feed(data)

    def get(self) -> list[bytes] | None:
        """Next command from the exact path (raises ProtocolError where Redis would)."""
        assert self._slow is not None
        if self._slow.failed is not None:
            raise self._slow.failed
        cmd = self._slow.next()
        if cmd is None and self._slow.empty():
            self.fast = True
            self._slow = None
        return cmd


def _ends_with(data: bytes, last: list[bytes]) -> bool:
    """Whether `data` ends exactly after the command `last`."""
    tail = last[-1]
    if not data.endswith(tail + b"\r\n") and len(data) > len(tail) + 2:
        return False
    return data.endswith(encode_command(last))


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
        self.failed: ProtocolError | None = None

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
                if (
                    c == 92
                    and i + 3 < n
                    and line[i + 1] == 120
                    and line[i + 2] in _HEX
                    and line[i + 3] in _HEX
                ):
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
