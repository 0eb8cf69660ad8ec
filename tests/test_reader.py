"""The request reader is a pure parser (no I/O): whatever the byte stream and however it is
split into reads, the fast path (hiredis plus lazy boundary tracking) and the exact path
must hand the connection the same commands, in order, each exactly once."""

from __future__ import annotations

import hiredis
from hypothesis import given, settings
from hypothesis import strategies as st

from respike.resp.reader import ProtocolError, RequestReader, encode_command

# Arguments full of the bytes the fast path looks for: headers, CRLFs, '+', '=', '$', '*'.
ARG = st.binary(max_size=40) | st.sampled_from(
    [b"*1234567", b"$123456789", b"\r\n+x", b"\r\n=", b"*", b"$-1", b"\r\n", b"", b"x" * 300]
)
COMMAND = st.lists(ARG, min_size=1, max_size=6)


def drive(reader: RequestReader, chunks: list[bytes]) -> list[list[bytes]]:
    """Feed chunks the way respike/resp/client.py does; return the commands produced."""
    out: list[list[bytes]] = []
    for chunk in chunks:
        if reader.feed_fast(chunk):
            done, last = 0, None
            while True:
                try:
                    cmd = reader.hiredis.gets()
                except hiredis.ProtocolError:
                    reader.fast_failed(chunk, done)
                    break
                if cmd is False:
                    reader.end_fast(chunk, done, last)
                    break
                if cmd.__class__ is not list or not cmd:
                    reader.fast_failed(chunk, done)
                    break
                out.append(cmd)
                done, last = done + 1, cmd
        else:
            reader.feed(chunk)
        while not reader.fast:
            cmd = reader.get()
            if cmd is None:
                break
            out.append(cmd)
    return out


@settings(max_examples=300, deadline=None)
@given(
    commands=st.lists(COMMAND, min_size=1, max_size=12),
    cuts=st.lists(st.integers(0, 5000), max_size=12),
)
def test_any_split_gives_the_same_commands(commands, cuts):
    stream = b"".join(encode_command(c) for c in commands)
    points = sorted({c % (len(stream) + 1) for c in cuts} | {0, len(stream)})
    chunks = [stream[a:b] for a, b in zip(points, points[1:], strict=False) if b > a]
    assert drive(RequestReader(), chunks) == commands


@settings(max_examples=100, deadline=None)
@given(commands=st.lists(COMMAND, min_size=1, max_size=6), size=st.integers(1, 7))
def test_byte_by_byte(commands, size):
    stream = b"".join(encode_command(c) for c in commands)
    chunks = [stream[i : i + size] for i in range(0, len(stream), size)]
    assert drive(RequestReader(), chunks) == commands


def test_inline_after_multibulk_and_errors_after_good_commands():
    reader = RequestReader()
    good = encode_command([b"SET", b"k", b"v"])
    assert drive(reader, [good, b"PING\r\n", good]) == [
        [b"SET", b"k", b"v"],
        [b"PING"],
        [b"SET", b"k", b"v"],
    ]
    reader = RequestReader()
    try:
        drive(reader, [good + b"*1\r\n$600000000\r\n"])
    except ProtocolError as exc:
        assert "invalid bulk length" in str(exc)
    else:
        raise AssertionError("an oversized bulk header must be refused")
