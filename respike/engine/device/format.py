"""The on-device format: file header, write blocks and records (see docs/storage.md).

Everything is little-endian. A device file is `file-size` bytes cut into write blocks of
`write-block-size` bytes. Block 0 of every file holds the file header; every other block
is free (never written, or erased) or used:

    block   = block header (64 B) | records, each 16-byte aligned | ... | trailer (32 B)
    record  = record header (72 B) | set name | key | value (pack_value)

A record belongs to one incarnation of its block: its header repeats the block's sequence
number (`bseq`, unique and increasing for every block ever opened), so records left over
from an earlier use of a reused block are never mistaken for current ones. The record
checksum covers the whole record after the checksum field itself (header and body). The
trailer is written when a block is full (sealed); its checksum over the block's used bytes
lets a cold start take a whole block at once instead of checking record by record.
"""

from __future__ import annotations

import struct
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Final

import numpy as np


def _fast_crc32() -> Callable[..., int]:
    """CRC-32 as zlib computes it (the format's checksum), from ISA-L when installed:
    zlib takes ~180 ns for a 112-byte record (short inputs go byte by byte), ISA-L ~35."""
    try:
        from isal import isal_zlib
    except ImportError:  # (the same values, slower)
        return zlib.crc32
    return isal_zlib.crc32


crc32: Final = _fast_crc32()

FORMAT_VERSION: Final = 1
ALIGN: Final = 16

# --- file header (first bytes of block 0) ---------------------------------------------------

FILE_MAGIC: Final = b"RESPIKE\x00"
# crc, magic, version, flags, write-block-size, file-size, file index, file count,
# device uuid (shared by the files of a namespace), namespace, created (ms)
FILE_HEADER: Final = struct.Struct("<I8sHHIQHH16s32sQ")
FILE_HEADER_SIZE: Final = 4096


@dataclass
class FileHeader:
    version: int
    wbs: int
    file_size: int
    index: int
    count: int
    uuid: bytes
    namespace: str
    created: int

    def pack(self) -> bytes:
        raw = FILE_HEADER.pack(
            0,
            FILE_MAGIC,
            self.version,
            0,
            self.wbs,
            self.file_size,
            self.index,
            self.count,
            self.uuid,
            self.namespace.encode(),
            self.created,
        )
        raw = struct.pack("<I", crc32(raw[4:])) + raw[4:]
        return raw + bytes(FILE_HEADER_SIZE - len(raw))


class HeaderError(Exception):
    """A file header that is not ours, or is damaged (the text says which)."""


def unpack_file_header(raw: bytes) -> FileHeader | None:
    """The header, or None for a file never formatted (all zeros); raises HeaderError."""
    if len(raw) < FILE_HEADER.size or not any(raw[: FILE_HEADER.size]):
        return None
    crc, magic, version, _flags, wbs, size, index, count, uuid, ns, created = (
        FILE_HEADER.unpack_from(raw)
    )
    if magic != FILE_MAGIC:
        raise HeaderError("is not a respike device file (bad magic)")
    if version != FORMAT_VERSION:
        raise HeaderError(
            f"has format version {version}; this respike reads version {FORMAT_VERSION}"
        )
    if crc32(raw[4 : FILE_HEADER.size]) != crc:
        raise HeaderError("has a damaged file header (checksum mismatch)")
    return FileHeader(version, wbs, size, index, count, uuid, ns.rstrip(b"\x00").decode(), created)


# --- block header and trailer ---------------------------------------------------------------

BLOCK_MAGIC: Final = 0x31425352  # "RSB1": a block in use
FREE_MAGIC: Final = 0x31465352  # "RSF1": an erased block (its old records must not be read)
TRAILER_MAGIC: Final = 0x31545352  # "RST1"
# crc of [4:32), magic, version, reserved, reserved, bseq, opened (ms)
BLOCK_HEADER: Final = struct.Struct("<IIHHIQQ")
BLOCK_HEADER_SIZE: Final = 64
# crc of [4:28), magic, bseq, end of records, record count, crc of block bytes [0:end)
TRAILER: Final = struct.Struct("<IIQIII")
TRAILER_SIZE: Final = 32

USED: Final = "used"
FREE: Final = "free"
ZERO: Final = "zero"
BAD: Final = "bad"


def pack_block_header(bseq: int, opened: int, magic: int = BLOCK_MAGIC) -> bytes:
    raw = BLOCK_HEADER.pack(0, magic, FORMAT_VERSION, 0, 0, bseq, opened)
    return struct.pack("<I", crc32(raw[4:])) + raw[4:]


def unpack_block_header(raw) -> tuple[str, int]:
    """(USED | FREE | ZERO | BAD, bseq)."""
    crc, magic, version, _r1, _r2, bseq, _opened = BLOCK_HEADER.unpack_from(raw)
    if magic in (BLOCK_MAGIC, FREE_MAGIC) and version == FORMAT_VERSION:
        if crc32(memoryview(raw)[4 : BLOCK_HEADER.size]) == crc:
            return (USED if magic == BLOCK_MAGIC else FREE), bseq
    if not any(memoryview(raw)[:BLOCK_HEADER_SIZE]):
        return ZERO, 0
    return BAD, 0


def pack_trailer(buf, bseq: int, end: int, nrec: int) -> bytes:
    raw = TRAILER.pack(0, TRAILER_MAGIC, bseq, end, nrec, crc32(memoryview(buf)[:end]))
    return struct.pack("<I", crc32(raw[4:])) + raw[4:] + bytes(TRAILER_SIZE - TRAILER.size)


def unpack_trailer(raw, bseq: int, wbs: int) -> tuple[int, int, int] | None:
    """(end, nrec, data crc) when the trailer is intact and of this block incarnation."""
    crc, magic, tseq, end, nrec, dcrc = TRAILER.unpack_from(raw)
    if magic != TRAILER_MAGIC or tseq != bseq or crc32(memoryview(raw)[4 : TRAILER.size]) != crc:
        return None
    if not BLOCK_HEADER_SIZE <= end <= wbs - TRAILER_SIZE:
        return None
    return end, nrec, dcrc


# --- records --------------------------------------------------------------------------------

RECORD_MAGIC: Final = 0x31435352  # "RSC1"
F_TOMBSTONE: Final = 1
# crc, magic, length, version, flags, kind, set length, bseq, digest (20), generation,
# reserved, key length, logical size (what the namespace charges), void-time, lut (ms)
_AFTER_CRC: Final = "IIBBBBQ20sHHIIQQ"
RECORD: Final = struct.Struct("<I" + _AFTER_CRC)
RECORD_SIZE: Final = RECORD.size  # 72
RECORD_AFTER_CRC: Final = struct.Struct(
    "<" + _AFTER_CRC
)  # the header the crc covers (and writes build)
MAX_SET_NAME: Final = 255

RECORD_DTYPE: Final = np.dtype(
    [
        ("crc", "<u4"),
        ("magic", "<u4"),
        ("length", "<u4"),
        ("version", "u1"),
        ("flags", "u1"),
        ("kind", "u1"),
        ("set_len", "u1"),
        ("bseq", "<u8"),
        ("pid", "<u2"),
        ("d0", "<u8"),
        ("d1", "<u8"),
        ("dtail", "<u2"),
        ("gen", "<u2"),
        ("reserved", "<u2"),
        ("key_len", "<u4"),
        ("lsize", "<u4"),
        ("void", "<u8"),
        ("lut", "<u8"),
    ]
)
assert RECORD_DTYPE.itemsize == RECORD_SIZE
_CRC: Final = struct.Struct("<I")
_MAGIC_BYTES: Final = struct.pack("<I", RECORD_MAGIC)


def padded(length: int) -> int:
    return (length + ALIGN - 1) & ~(ALIGN - 1)


def encode_record(
    bseq: int,
    digest: bytes,
    flags: int,
    kind: int,
    gen: int,
    void: int,
    lut: int,
    lsize: int,
    setname: bytes,
    key: bytes,
    body: bytes,
) -> bytes:
    """One record, checksummed (not padded)."""
    length = RECORD_SIZE + len(setname) + len(key) + len(body)
    raw = b"".join(
        (
            RECORD.pack(
                0,
                RECORD_MAGIC,
                length,
                FORMAT_VERSION,
                flags,
                kind,
                len(setname),
                bseq,
                digest,
                gen,
                0,
                len(key),
                lsize,
                void,
                lut,
            ),
            setname,
            key,
            body,
        )
    )
    return _CRC.pack(crc32(memoryview(raw)[4:])) + raw[4:]


def rebase_record(buf, off: int, length: int, bseq: int) -> bytes:
    """A copy of the record at `off` that belongs to block incarnation `bseq` (defrag)."""
    raw = bytearray(buf[off : off + length])
    struct.pack_into("<Q", raw, 16, bseq)
    _CRC.pack_into(raw, 0, crc32(memoryview(raw)[4:]))
    return bytes(raw)


def check_record(buf, off: int, limit: int, bseq: int) -> int:
    """Length of the valid record of incarnation `bseq` at `off`, or 0 (-1: bad checksum,
    i.e. torn or corrupt; -2: intact but of an older incarnation of the block)."""
    if off + RECORD_SIZE > limit:
        return 0
    crc, magic, length, version = struct.unpack_from("<IIIB", buf, off)
    if magic != RECORD_MAGIC or version != FORMAT_VERSION:
        return 0
    if length < RECORD_SIZE or off + length > limit:
        return -1
    if crc32(memoryview(buf)[off + 4 : off + length]) != crc:
        return -1
    if struct.unpack_from("<Q", buf, off + 16)[0] != bseq:
        return -2
    return length


@dataclass
class BlockRecords:
    """The valid records of one block, as header arrays (for scan and defrag)."""

    offs: np.ndarray
    hdr: np.ndarray
    setnames: list[bytes | None]
    fast: bool = True
    corrupt: int = 0  # records with a bad checksum (torn or damaged)
    skipped_bytes: int = 0
    stale: int = 0  # intact records of an earlier use of the block
    extra: dict = field(default_factory=dict)


_EMPTY_OFFS: Final = np.zeros(0, dtype=np.int64)


def gather_headers(buf, offs: list[int] | np.ndarray) -> np.ndarray:
    """The record headers at 16-byte aligned `offs`, as one structured array."""
    if not len(offs):
        return np.zeros(0, dtype=RECORD_DTYPE)
    arr = np.frombuffer(buf, dtype=np.uint8)
    # A window of RECORD_SIZE bytes starting at every aligned offset: one row copy each.
    rows = (len(arr) - RECORD_SIZE) // ALIGN + 1
    windows = np.lib.stride_tricks.as_strided(
        arr, shape=(rows, RECORD_SIZE), strides=(ALIGN, 1), writeable=False
    )
    picked = windows[np.asarray(offs, dtype=np.int64) // ALIGN]
    return picked.reshape(-1).view(RECORD_DTYPE)


def _set_names(buf, offs, set_lens) -> list[bytes | None]:
    names: list[bytes | None] = [None] * len(offs)
    for i in np.flatnonzero(set_lens).tolist():
        off = int(offs[i]) + RECORD_SIZE
        names[i] = bytes(buf[off : off + int(set_lens[i])])
    return names


def parse_block(buf, bseq: int, wbs: int, trust_end: int | None = None) -> BlockRecords:
    """The valid records of a block of incarnation `bseq` (buf holds the whole block).

    Fast path: an intact trailer whose checksum matches the block's bytes means every
    record up to its end is intact, so only lengths are walked and the headers are read
    as one array. Otherwise every record is checked on its own (checksum, incarnation),
    and after a bad one the parser resynchronises on the next aligned record magic, so one
    damaged record does not hide the intact ones after it.
    `trust_end` (defrag of a block this process wrote) skips the checksums.
    """
    end = trust_end
    if end is None:
        trailer = unpack_trailer(memoryview(buf)[wbs - TRAILER_SIZE : wbs], bseq, wbs)
        if trailer is not None and crc32(memoryview(buf)[: trailer[0]]) == trailer[2]:
            end = trailer[0]
    if end is not None:
        offs: list[int] = []
        words = memoryview(buf).cast("B").cast("I")  # the length is the third 32-bit word
        off = BLOCK_HEADER_SIZE
        while off < end:
            offs.append(off)
            off += (words[(off >> 2) + 2] + 15) & ~15
        words.release()
        if off == padded(end) or off == end:
            hdr = gather_headers(buf, offs)
            if np.all(hdr["magic"] == RECORD_MAGIC) and np.all(hdr["bseq"] == bseq):
                offs_a = np.asarray(offs, dtype=np.int64)
                return BlockRecords(offs_a, hdr, _set_names(buf, offs_a, hdr["set_len"]))
    return _parse_slow(buf, bseq, wbs)


def _next_magic(buf, start: int, limit: int) -> int:
    """The first aligned offset >= start where a record magic stands, else `limit`."""
    p = buf.find(_MAGIC_BYTES, start + 4, limit)
    while p >= 0:
        if (p - 4) % ALIGN == 0:
            return p - 4
        p = buf.find(_MAGIC_BYTES, p + 1, limit)
    return limit


def _parse_slow(buf, bseq: int, wbs: int) -> BlockRecords:
    limit = wbs - TRAILER_SIZE
    offs: list[int] = []
    corrupt = stale = skipped = 0
    off = BLOCK_HEADER_SIZE
    while off + RECORD_SIZE <= limit:
        n = check_record(buf, off, limit, bseq)
        if n > 0:
            offs.append(off)
            off += padded(n)
            continue
        if n == -1:
            corrupt += 1
        elif n == -2:
            stale += 1
        # Resynchronise on the next aligned position holding a record magic.
        nxt = _next_magic(buf, off + ALIGN, limit)
        if n == -1 or (n == 0 and buf.count(0, off, nxt) != nxt - off):
            skipped += nxt - off
        off = nxt
    offs_a = np.asarray(offs, dtype=np.int64) if offs else _EMPTY_OFFS
    hdr = gather_headers(buf, offs_a)
    return BlockRecords(
        offs_a, hdr, _set_names(buf, offs_a, hdr["set_len"]), False, corrupt, skipped, stale
    )
