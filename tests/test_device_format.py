"""The on-device format: headers, records, checksums, and parsing damaged blocks."""

from __future__ import annotations

import os
import random
import struct
import zlib

import pytest

from respike.engine.device.format import (
    BLOCK_HEADER_SIZE,
    F_TOMBSTONE,
    FORMAT_VERSION,
    FREE,
    RECORD_SIZE,
    TRAILER_SIZE,
    USED,
    ZERO,
    FileHeader,
    HeaderError,
    check_record,
    crc32,
    encode_record,
    pack_block_header,
    pack_trailer,
    padded,
    parse_block,
    rebase_record,
    unpack_block_header,
    unpack_file_header,
)
from respike.engine.device.format import FREE_MAGIC as FREE_MAGIC_
from respike.keyspace import digest_of

WBS = 64 << 10


def make_block(bseq: int, records: list[bytes], seal: bool = True) -> bytearray:
    buf = bytearray(WBS)
    buf[:32] = pack_block_header(bseq, 0)
    off = BLOCK_HEADER_SIZE
    for raw in records:
        buf[off : off + len(raw)] = raw
        off += padded(len(raw))
    if seal:
        buf[WBS - TRAILER_SIZE :] = pack_trailer(buf, bseq, off, len(records))
    return buf


def rec(
    bseq: int, key: bytes, value: bytes = b"v", setname: bytes = b"", flags: int = 0, gen: int = 1
) -> bytes:
    return encode_record(
        bseq, digest_of(key), flags, 0, gen, 0, 1000 + gen, 64 + len(key), setname, key, value
    )


def offsets(records: list[bytes]) -> list[int]:
    out, off = [], BLOCK_HEADER_SIZE
    for raw in records:
        out.append(off)
        off += padded(len(raw))
    return out


def test_file_header_round_trip_and_refusals():
    h = FileHeader(FORMAT_VERSION, WBS, 1 << 24, 0, 1, os.urandom(16), "test", 123)
    raw = h.pack()
    assert unpack_file_header(raw) == h
    assert unpack_file_header(bytes(4096)) is None
    with pytest.raises(HeaderError, match="not a respike device file"):
        unpack_file_header(b"garbage!" * 512)
    other = bytearray(raw)
    struct.pack_into("<H", other, 12, FORMAT_VERSION + 1)
    with pytest.raises(HeaderError, match="format version"):
        unpack_file_header(bytes(other))
    damaged = bytearray(raw)
    damaged[60] ^= 0xFF
    with pytest.raises(HeaderError, match="checksum"):
        unpack_file_header(bytes(damaged))


def test_block_header_states():
    assert unpack_block_header(pack_block_header(7, 0) + bytes(32)) == (USED, 7)
    assert unpack_block_header(pack_block_header(7, 0, FREE_MAGIC_) + bytes(32)) == (FREE, 7)
    assert unpack_block_header(bytes(64))[0] == ZERO
    bad = bytearray(pack_block_header(7, 0) + bytes(32))
    bad[20] ^= 1
    assert unpack_block_header(bytes(bad))[0] == "bad"


def test_record_round_trip_and_checksum_covers_header_and_body():
    raw = rec(5, b"test:users:42", b"hello", b"users")
    assert len(raw) == RECORD_SIZE + len(b"users") + len(b"test:users:42") + len(b"hello")
    assert check_record(raw, 0, len(raw), 5) == len(raw)
    assert check_record(raw, 0, len(raw), 6) == -2  # intact, earlier incarnation
    for pos in (8, 30, 50, len(raw) - 1):  # header fields and body
        bad = bytearray(raw)
        bad[pos] ^= 0x40
        assert check_record(bytes(bad), 0, len(raw), 5) == -1
    moved = rebase_record(raw, 0, len(raw), 9)
    assert check_record(moved, 0, len(moved), 9) == len(raw)
    assert moved[24:] == raw[24:]


def test_parse_sealed_block_fast_path():
    records = [rec(3, b"k%d" % i, os.urandom(i % 50), b"s" if i % 3 else b"") for i in range(200)]
    records.append(rec(3, b"dead", b"", flags=F_TOMBSTONE))
    parsed = parse_block(make_block(3, records), 3, WBS)
    assert parsed.fast and not parsed.corrupt
    assert parsed.offs.tolist() == offsets(records)
    assert parsed.hdr["flags"][-1] == F_TOMBSTONE
    assert parsed.setnames[1] == b"s" and parsed.setnames[0] is None
    assert (parsed.hdr["pid"] & 0xFFF)[5] == int.from_bytes(digest_of(b"k5")[:2], "little") & 0xFFF


def test_parse_unsealed_block_stops_at_zeros():
    records = [rec(4, b"k%d" % i) for i in range(10)]
    parsed = parse_block(make_block(4, records, seal=False), 4, WBS)
    assert not parsed.fast
    assert len(parsed.offs) == 10 and parsed.corrupt == 0 and parsed.skipped_bytes == 0


def test_parse_torn_tail_keeps_everything_before():
    records = [rec(4, b"k%d" % i, b"x" * 100) for i in range(10)]
    buf = make_block(4, records, seal=False)
    offs = offsets(records)
    tear = offs[9] + 50
    buf[tear : offs[9] + 200] = bytes(offs[9] + 200 - tear)  # the last write stopped half way
    parsed = parse_block(buf, 4, WBS)
    assert parsed.offs.tolist() == offs[:9]
    assert parsed.corrupt == 1 and parsed.skipped_bytes > 0


def test_parse_resynchronises_after_a_damaged_record():
    records = [rec(4, b"k%d" % i, b"x" * random.randrange(200)) for i in range(30)]
    buf = make_block(4, records)
    offs = offsets(records)
    buf[offs[7] + 60] ^= 0xFF  # one flipped byte inside record 7; the trailer checksum fails too
    buf[offs[20] + 8 : offs[20] + 12] = b"\xff\xff\xff\x7f"  # a garbage length in record 20
    parsed = parse_block(buf, 4, WBS)
    assert not parsed.fast
    assert parsed.offs.tolist() == [o for i, o in enumerate(offs) if i not in (7, 20)]
    assert parsed.corrupt == 2


def test_records_of_an_earlier_incarnation_are_not_taken():
    old = [rec(2, b"old%d" % i, b"y" * 300) for i in range(20)]
    buf = make_block(2, old)
    new = [rec(9, b"new%d" % i) for i in range(3)]
    # The block is reused: a new header and three records, then a crash (no trailer).
    buf[:32] = pack_block_header(9, 0)
    off = BLOCK_HEADER_SIZE
    for raw in new:
        buf[off : off + len(raw)] = raw
        off += padded(len(raw))
    parsed = parse_block(buf, 9, WBS)
    assert len(parsed.offs) == 3 and parsed.corrupt == 0 and parsed.stale > 0


def test_the_checksum_is_zlibs_crc32_for_every_input_kind():
    """Files stay readable whether a node checksums with ISA-L or zlib (its fallback)."""
    rng = random.Random(7)
    for n in [0, 1, 15, 16, 47, 48, 63, 64, 65, 112, 255, 4096, 70_000]:
        data = rng.randbytes(n)
        want = zlib.crc32(data)
        assert crc32(data) == want
        assert crc32(bytearray(data)) == want
        assert crc32(memoryview(b"xx" + data)[2:]) == want
        assert crc32(data[n // 2 :], crc32(data[: n // 2])) == want  # continued
