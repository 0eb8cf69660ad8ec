"""The device storage engine: log-structured write blocks, an in-memory index, defrag.

Event-loop discipline: record reads, writes into the in-memory write buffer and index
changes happen on the loop (they are what makes a command atomic). Disk writes, fsyncs,
block-sized reads (defrag), erasures and lmdb commits run in threads. A record that is not
in the write buffer or the post-write cache is read with one `os.pread` of its own size on
the loop: it is small and usually in the page cache, and a thread hop would cost more
than the read (docs/storage.md, "Reads").
"""

from __future__ import annotations

import asyncio
import logging
import os
import secrets
import struct
import subprocess
import sys
import time
from array import array
from collections import OrderedDict, deque
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from functools import partial
from hashlib import blake2b
from typing import Any, Final

import numpy as np

from ...config import ConfigError, NamespaceConfig
from ...errors import RecordError, ResultCode
from ...keyspace import N_PARTITIONS, hash_slot, split_key
from ..engine import Ack
from ..record import HASH, Record, pack_value, unpack_value
from ..smd import open_smd, release_smd
from ..storage import Storage
from . import checkpoint as ckpt
from .format import (
    BLOCK_HEADER,
    BLOCK_HEADER_SIZE,
    F_TOMBSTONE,
    FILE_HEADER_SIZE,
    FORMAT_VERSION,
    FREE,
    FREE_MAGIC,
    MAX_SET_NAME,
    RECORD,
    RECORD_AFTER_CRC,
    RECORD_MAGIC,
    RECORD_SIZE,
    TRAILER_SIZE,
    USED,
    FileHeader,
    HeaderError,
    check_record,
    crc32,
    pack_block_header,
    pack_trailer,
    parse_block,
    unpack_block_header,
    unpack_file_header,
)
from .index import (
    ADDR_MASK,
    CNT_MAX,
    CNT_ONE,
    CNT_SHIFT,
    DEAD,
    SID_MASK,
    SID_SHIFT,
    TOMB,
    VOID_MASK,
    Index,
    W,
    trim_heap,
)
from .scan import ScanStats, scan

log = logging.getLogger("respike.device")

# Block states.
B_FREE: Final = 0
B_OPEN: Final = 1
B_SEALED: Final = 2
B_DEFRAG: Final = 3
B_HEADER: Final = 4
# Client writes never take the last free blocks: defrag needs one to make progress.
RESERVE_BLOCKS: Final = 1
# Sealed blocks waiting for the disk beyond this refuse writes (Aerospike's max-write-cache);
# beyond half of it, writes are held back until the writer catches up (see _relief_wait).
MAX_WRITE_QUEUE: Final = 64 << 20
THROTTLE_WRITE_QUEUE: Final = MAX_WRITE_QUEUE // 2
TICK: Final = 0.25
RECORD_CACHE: Final = 4096  # decoded string and hash records kept (see DeviceStorage.rcache)
RECORD_CACHE_MAX: Final = 16 << 10  # ... of at most this size: the cache stays under 64 MiB
SMALL_RECORD: Final = 1024  # below this, a record is built as one bytes object (measured faster)
DEFRAG_SLICE: Final = 256  # records moved between two yields to the loop
DEFRAG_BATCH: Final = 4  # blocks moved out before one sync and erase
DEFRAG_BATCH_URGENT: Final = 64

_QQ: Final = struct.Struct("<QQ")
_CRC: Final = struct.Struct("<I")
_BSEQ: Final = struct.Struct("<Q")


def _now_ms() -> int:
    return time.time_ns() // 1_000_000


def _digest_groups(
    pid: np.ndarray, d0: np.ndarray, d1: np.ndarray
) -> tuple[list, list, list, list, list]:
    """The distinct digests of a block's records, sorted: (position of each one's last
    copy, pid, d0, d1, copies). A stable lexsort of the reversed arrays puts each digest's
    last copy first in its group (4x faster than np.unique on a structured array)."""
    n = len(pid)
    pr, ar, br = pid[::-1], d0[::-1], d1[::-1]
    order = np.lexsort((br, ar, pr))
    p, a, b = pr[order], ar[order], br[order]
    start = np.ones(n, dtype=bool)
    start[1:] = (p[1:] != p[:-1]) | (a[1:] != a[:-1]) | (b[1:] != b[:-1])
    idx = np.flatnonzero(start)
    counts = np.diff(np.append(idx, n))
    return (
        (n - 1 - order[idx]).tolist(),
        p[idx].tolist(),
        a[idx].tolist(),
        b[idx].tolist(),
        counts.tolist(),
    )


@dataclass
class DeviceStats:
    """The device's counters (INFO storage). Attributes, not a dict: several are counted
    on every write, where a compiled attribute costs nothing and a dict update does."""

    client_writes: int = 0
    client_write_bytes: int = 0
    tombstones_written: int = 0
    expired_unwritten: int = 0
    defrag_blocks: int = 0
    defrag_records: int = 0
    defrag_write_bytes: int = 0
    blocks_written: int = 0
    write_bytes: int = 0
    commits: int = 0
    commit_waits: int = 0
    cache_hits: int = 0
    file_reads: int = 0
    read_errors: int = 0
    erase_errors: int = 0
    throttled_writes: int = 0
    record_cache_hits: int = 0
    buffer_rewrites: int = 0


class Lookup:
    """One key's index lookup: its partition, digest and entry number (-1: absent), and
    its decoded record while that is in the record cache. The last one is kept, so a
    write after its read hashes the key once; cached records keep theirs."""

    def __init__(self, pid: int, dg: bytes, d0: int, d1: int, j: int) -> None:
        self.rec: Record | None = None
        self.pid = pid
        self.dg = dg
        self.d0 = d0
        self.d1 = d1
        self.j = j


class _Done:
    """A finished cycle, shaped like the concurrent future of a thread cycle."""

    def __init__(self, written: int):
        self.written = written

    def exception(self) -> None:
        return None

    def result(self) -> int:
        return self.written


class _Failed:
    def __init__(self, exc: BaseException):
        self.exc = exc

    def exception(self) -> BaseException:
        return self.exc

    def result(self) -> int:
        raise self.exc


# The sync helper: one byte in = fdatasync every file, one byte out ("k" or "e"). It ends
# quietly when the node is gone (end of file, or a broken pipe when the node was killed
# while it synced: no traceback in the node's log), and leaves Ctrl-C, which reaches the
# whole process group, to the node, which closes the pipe when it has stopped.
_HELPER: Final = """
import os, signal, sys
signal.signal(signal.SIGINT, signal.SIG_IGN)
fds = [int(a) for a in sys.argv[1:]]
def serve():
    while os.read(0, 1):
        reply = b"k"
        for fd in fds:
            try:
                os.fdatasync(fd)
            except OSError as exc:
                reply = b"e"
                os.write(2, ("fdatasync: %s\\n" % exc).encode())
        os.write(1, reply)
try:
    serve()
except OSError:
    pass
"""


class SyncHelper:
    """A child process that fdatasyncs the device files when asked, for commit-to-device.

    A sync thread in this process needs the GIL to start its fsync and to report it,
    and the event loop holds the GIL while it serves clients: measured, that handoff
    cost more than the fsync itself (~0.6 ms against ~0.25 ms). A process has no GIL to
    wait for; the loop asks through a pipe and hears back through one (an I/O event).
    If it dies, syncs go back to the writer thread.
    """

    def __init__(self, fds: list[int], loop: asyncio.AbstractEventLoop):
        self.loop = loop
        self.proc = subprocess.Popen(
            [sys.executable, "-I", "-S", "-c", _HELPER, *map(str, fds)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            pass_fds=fds,
            close_fds=True,
        )
        self.req = self.proc.stdin.fileno()  # type: ignore[union-attr]
        self.resp = self.proc.stdout.fileno()  # type: ignore[union-attr]
        os.set_blocking(self.resp, False)
        self.pending: deque = deque()
        self.alive = True
        loop.add_reader(self.resp, self._replies)

    def sync(self, callback) -> None:
        """callback(error text or None) once every byte written so far is durable."""
        self.pending.append(callback)
        try:
            os.write(self.req, b"s")
        except OSError:
            self._died()

    def _replies(self) -> None:
        try:
            data = os.read(self.resp, 4096)
        except BlockingIOError:
            return
        except OSError:
            data = b""
        if not data:
            self._died()
            return
        for byte in data:
            if self.pending:
                self.pending.popleft()(
                    None if byte == ord("k") else "fdatasync failed (see the log)"
                )

    def _died(self) -> None:
        if not self.alive:
            return
        self.alive = False
        self.loop.remove_reader(self.resp)
        log.error("device sync helper exited; syncing from a thread")
        pending, self.pending = self.pending, deque()
        for callback in pending:
            callback("the sync helper exited")

    def close(self) -> None:
        if self.alive:
            self.alive = False
            self.loop.remove_reader(self.resp)
        for stream in (self.proc.stdin, self.proc.stdout):
            if stream is not None:
                stream.close()
        try:
            self.proc.wait(5)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(5)


class DeviceStorage(Storage):
    """Records of one namespace on `file` device files; see docs/storage.md."""

    def __init__(self, config: NamespaceConfig, waits: list, data_dir: str):
        self.config = config
        self.name = config.name
        self.waits = waits
        self.data_dir = data_dir
        v = config.values
        self.wbs = v["write-block-size"]
        self.wbits = self.wbs.bit_length() - 1
        self.bpf = v["file-size"] // self.wbs
        self.file_size = self.bpf * self.wbs
        paths = v["file"] or [f"{self.name}.dat"]
        self.paths = [p if os.path.isabs(p) else os.path.join(data_dir, p) for p in paths]
        self.commit = v["commit-to-device"]
        self.nblocks = self.bpf * len(self.paths)
        self.usable = self.nblocks - len(self.paths)
        self.limit = self.wbs - TRAILER_SIZE
        self.capacity = self.usable * (self.limit - BLOCK_HEADER_SIZE)
        self.ushift = self.wbits - 4  # 16-byte units -> block number
        self.omask = self.wbs - 1
        self.ns: Any = None
        self.index = Index()
        self.fds: list[int] = []
        self.uuid = b""
        self.smd: Any = None
        self.opened = False
        self.closed = False
        self.loop: asyncio.AbstractEventLoop | None = None
        self._tasks: list[asyncio.Task] = []
        self._io: ThreadPoolExecutor | None = None
        self._rd: ThreadPoolExecutor | None = None
        # Blocks.
        n = self.nblocks
        self.live = array("q", bytes(8 * n))  # bytes of LIVE record copies
        self.bseq = array("Q", bytes(8 * n))
        self.state = bytearray(n)
        self.queued = bytearray(n)
        self.free: deque[int] = deque()
        self.dq: deque[int] = deque()  # defrag queue
        self._dq_event: asyncio.Event | None = None
        self._to_erase: list[tuple[int, list]] = []  # defragmented, waiting to be erased
        self._erase_event: asyncio.Event | None = None
        self._erase_lock = asyncio.Lock()
        # Backpressure: while free blocks run low and reclaimable blocks are on their way,
        # write replies wait for the next erase round instead of writes failing.
        self.pressure = False
        self._relief: asyncio.Future | None = None
        self._defragging = 0
        self.used = 0
        self.next_seq = 1
        self.lwm_bytes = 0
        self._lwm_pct = -1
        # Sets (id 0 = no set) and truncate points (set name, None = namespace -> cutoff).
        self.set_names: list[bytes] = [b""]
        self.set_ids: dict[bytes, int] = {b"": 0}
        self.cutoffs: dict[bytes | None, int] = {}
        self._smd_pending: set = set()
        # The write buffer (current block) and blocks kept in memory.
        self.buf: bytearray | None = None
        self.buf_g = -1
        self.buf_seq = 0
        self.wpos = 0
        self.fpos = 0  # bytes of the current block handed to the writer
        self.wdone = 0  # ... and written by it (INFO's unflushed bytes count from here)
        self._tail_end: tuple[int, int] | None = None  # (block, end) of the tail being written
        self.nrec = 0
        self.mem: dict[int, bytearray] = {}  # open, sealed-unwritten and cached blocks
        self.unwritten: dict[
            int, tuple
        ] = {}  # sealed, not yet on disk: g -> (buf, seq, end, nrec, from)
        self.cache: OrderedDict[int, None] = OrderedDict()  # written blocks kept for reads
        # Group commit.
        self._commit_fut: Ack | None = None
        self._barriers: list[asyncio.Future] = []
        self._cycle = False
        self._kicked = False
        self._flush_tail = False
        self.io_error = ""
        self._helper: SyncHelper | None = None
        # The last key looked up (a write usually follows its read) and its lookup.
        self._ck: bytes | None = None
        self._cl = Lookup(-1, b"", 0, 0, -1)
        # Recently used small string and hash records (kind <= HASH), decoded: key -> its
        # Lookup, as above, holding the record. As in the memory engine, the record
        # itself is handed out: commands change a hash only once its write is sure to be
        # accepted, the namespace commits every change through put(), and a put() that
        # fails drops the entry.
        self.rcache: OrderedDict[bytes, Lookup] = OrderedDict()
        # Statistics.
        self.start_mode = ""
        self.start_seconds = 0.0
        self.scan_stats = ScanStats()
        self.st = DeviceStats()

    # --- wiring ------------------------------------------------------------------------

    def attach(self, ns) -> None:
        self.ns = ns

    def _sid(self, name: bytes) -> int:
        sid = self.set_ids.get(name)
        if sid is None:
            if len(self.set_names) > SID_MASK:
                raise RecordError(
                    ResultCode.PARAMETER, f"namespace {self.name} has {SID_MASK} sets already"
                )
            if len(name) > MAX_SET_NAME:
                raise RecordError(
                    ResultCode.PARAMETER, f"set name longer than {MAX_SET_NAME} bytes"
                )
            sid = self.set_ids[name] = len(self.set_names)
            self.set_names.append(name)
        return sid

    def _where(self, msg: str) -> ConfigError:
        return ConfigError(f"[namespaces.{self.name}] {msg}")

    # --- opening: files, checkpoint or scan --------------------------------------------

    def open(self) -> None:
        """Open (or format) the files and rebuild the index; raises ConfigError."""
        if self.opened:
            return
        started = time.monotonic()
        self.smd = open_smd(self.data_dir)
        self.cutoffs = self.smd.truncates(self.name)
        fresh = self._open_files()
        headers = self._read_headers()
        if fresh:
            self.start_mode = "new"
            self._install_empty(headers)
        else:
            try:
                self._load_checkpoint(headers)
                self.start_mode = "checkpoint"
            except ckpt.CheckpointError as exc:
                log.info("namespace %s: %s; scanning the device", self.name, exc)
                self._scan(headers)
                self.start_mode = "scan"
        # A checkpoint serves one start only: gone before the first new write.
        self.smd.delete_checkpoint(self.name)
        trim_heap()  # the scan's temporary arrays
        self.start_seconds = time.monotonic() - started
        self._refresh_settings()
        self.opened = True
        log.info(
            "namespace %s: device %s (%d blocks of %d bytes), %s start in %.3fs: %d records, "
            "%d tombstones",
            self.name,
            ", ".join(self.paths),
            self.usable,
            self.wbs,
            self.start_mode,
            self.start_seconds,
            self.index.live,
            self.index.dead,
        )

    def _open_files(self) -> bool:
        headers: list[FileHeader | None] = []
        for path in self.paths:
            try:
                os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
                fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
            except OSError as exc:
                raise self._where(f"file '{path}': cannot open it: {exc.strerror}") from None
            self.fds.append(fd)
            try:
                headers.append(unpack_file_header(os.pread(fd, FILE_HEADER_SIZE, 0)))
            except HeaderError as exc:
                raise self._where(f"file '{path}' {exc}; refusing to start") from None
        if all(h is None for h in headers):
            self._format()
            return True
        uuid = None
        for i, (path, h) in enumerate(zip(self.paths, headers, strict=True)):
            if h is None:
                raise self._where(
                    f"file '{path}' is empty but the namespace's other files hold data; "
                    "restore it or remove all of them"
                )
            if h.namespace != self.name:
                raise self._where(
                    f"file '{path}' belongs to namespace '{h.namespace}', not '{self.name}'; "
                    "refusing to start"
                )
            if h.wbs != self.wbs:
                raise self._where(
                    f"file '{path}' was formatted with write-block-size {h.wbs}, "
                    f"but the configuration says {self.wbs}"
                )
            if h.file_size != self.file_size:
                raise self._where(
                    f"file '{path}' was formatted with file-size {h.file_size}, "
                    f"but the configuration says {self.file_size}"
                )
            if h.count != len(self.paths) or h.index != i:
                raise self._where(
                    f"file '{path}' is file {h.index + 1} of {h.count} of its device, "
                    f"but is listed as {i + 1} of {len(self.paths)}"
                )
            if uuid is not None and h.uuid != uuid:
                raise self._where(f"file '{path}' belongs to another device than '{self.paths[0]}'")
            uuid = h.uuid
            size = os.fstat(self.fds[i]).st_size
            if size < self.file_size:
                log.warning(
                    "namespace %s: file %s is %d bytes, short of %d: extended (its tail is lost)",
                    self.name,
                    path,
                    size,
                    self.file_size,
                )
                os.ftruncate(self.fds[i], self.file_size)
        self.uuid = uuid or b""
        return False

    def _format(self) -> None:
        self.uuid = secrets.token_bytes(16)
        for i, (path, fd) in enumerate(zip(self.paths, self.fds, strict=True)):
            os.ftruncate(fd, 0)
            try:
                os.posix_fallocate(fd, 0, self.file_size)
            except OSError:
                os.ftruncate(fd, self.file_size)
            header = FileHeader(
                FORMAT_VERSION,
                self.wbs,
                self.file_size,
                i,
                len(self.paths),
                self.uuid,
                self.name,
                _now_ms(),
            )
            os.pwrite(fd, header.pack(), 0)
            os.fsync(fd)
            log.info("namespace %s: formatted %s (%d bytes)", self.name, path, self.file_size)
        for d in {os.path.dirname(p) or "." for p in self.paths}:
            dfd = os.open(d, os.O_RDONLY)
            try:
                os.fsync(dfd)
            finally:
                os.close(dfd)

    def _block_pos(self, g: int) -> tuple[int, int]:
        return self.fds[g // self.bpf], (g % self.bpf) * self.wbs

    def _read_block(self, g: int) -> bytes:
        fd, off = self._block_pos(g)
        data = os.pread(fd, self.wbs, off)
        if len(data) < self.wbs:
            data += bytes(self.wbs - len(data))
        return data

    def _read_headers(self) -> list[tuple[str, int]]:
        headers: list[tuple[str, int]] = []
        for g in range(self.nblocks):
            if g % self.bpf == 0:
                headers.append(("header", 0))
                continue
            fd, off = self._block_pos(g)
            raw = os.pread(fd, BLOCK_HEADER.size, off)
            if len(raw) < BLOCK_HEADER.size:
                raw += bytes(BLOCK_HEADER.size - len(raw))
            headers.append(unpack_block_header(raw))
        return headers

    def _install_empty(self, headers: list[tuple[str, int]]) -> None:
        for g, (state, bseq) in enumerate(headers):
            if state == "header":
                self.state[g] = B_HEADER
            else:
                self.free.append(g)
            self.next_seq = max(self.next_seq, bseq + 1)

    def _cut_array(self, cutoffs: dict[bytes | None, int] | None = None) -> np.ndarray:
        """Truncate cutoff by set id (namespace-wide cutoff folded in)."""
        cutoffs = self.cutoffs if cutoffs is None else cutoffs
        cut = np.zeros(SID_MASK + 1, dtype=np.uint64)
        for name, c in cutoffs.items():
            if name is not None and name in self.set_ids:
                cut[self.set_ids[name]] = c
        return np.maximum(cut, np.uint64(cutoffs.get(None, 0)))

    def _scan(self, headers: list[tuple[str, int]]) -> None:
        def cutoff_of(sids: np.ndarray) -> np.ndarray:
            return self._cut_array()[sids]

        res = scan(headers, self._read_block, self.wbs, self._sid, cutoff_of, _now_ms())
        self.scan_stats = res.stats
        self.index = res.index
        self.live = array("q", res.live.astype(np.int64).tobytes())
        self.used = int(res.live.sum())
        taken = set()
        for g, (state, bseq) in enumerate(headers):
            if state == "header":
                self.state[g] = B_HEADER
            elif state == USED:
                self.state[g] = B_SEALED
                self.bseq[g] = bseq
                taken.add(g)
        for g, bseq in res.salvaged.items():
            self.state[g] = B_SEALED
            self.bseq[g] = bseq
            taken.add(g)
            self._repair_header(g, bseq)
        for g in range(self.nblocks):
            if self.state[g] == B_FREE and g not in taken:
                self.free.append(g)
        self.next_seq = max(
            self.next_seq, res.max_bseq + 1, max((b for _, b in headers), default=0) + 1
        )
        self._settle_namespace(res.used_bytes, res.set_objects, res.last_lut, check_cutoffs=False)
        s = res.stats
        log.info(
            "namespace %s: scanned %d blocks (%d whole) in %.3fs: %d record copies, %d corrupt "
            "records skipped (%d bytes), %d damaged block headers (%d salvaged), %d stale records",
            self.name,
            s.blocks,
            s.fast_blocks,
            s.seconds,
            s.records,
            s.corrupt_records,
            s.skipped_bytes,
            s.bad_blocks,
            s.salvaged_blocks,
            s.stale_records,
        )
        if s.corrupt_records or s.bad_blocks:
            log.warning(
                "namespace %s: the device had damaged data: %d corrupt records, %d bad blocks "
                "(see INFO storage)",
                self.name,
                s.corrupt_records,
                s.bad_blocks,
            )

    def _repair_header(self, g: int, bseq: int) -> None:
        fd, off = self._block_pos(g)
        os.pwrite(fd, pack_block_header(bseq, _now_ms()), off)
        os.fdatasync(fd)

    def _settle_namespace(
        self, used_bytes: int, set_objects: dict[int, int], last_lut: int, check_cutoffs: bool
    ) -> None:
        ns = self.ns
        if ns is None:
            return
        ns.used_bytes = used_bytes
        ns.set_objects = {self.set_names[sid]: n for sid, n in set_objects.items() if n}
        ns.last_lut = max(ns.last_lut, last_lut, max(self.cutoffs.values(), default=0))
        if check_cutoffs and self.cutoffs and self._count_truncated():
            ns.cutoffs.update(self.cutoffs)  # hidden now, removed by the next sweep

    def _count_truncated(self) -> int:
        cut = self._cut_array()
        total = 0
        for pid in range(N_PARTITIONS):
            if self.index.nlive[pid]:
                a = self.index.view(pid)
                m2 = a[:, 4]
                hit = ((m2 & np.uint64(DEAD)) == 0) & (
                    (a[:, 3] >> np.uint64(16))
                    <= cut[(m2 >> np.uint64(SID_SHIFT)) & np.uint64(SID_MASK)]
                )
                total += int(hit.sum())
        return total

    def _load_checkpoint(self, headers: list[tuple[str, int]]) -> None:
        parts = self.smd.read_checkpoint(self.name)
        meta = ckpt.load_meta(parts)
        if (
            meta.get("uuid") != self.uuid.hex()
            or meta.get("wbs") != self.wbs
            or meta.get("file_size") != self.file_size
        ):
            raise ckpt.CheckpointError("checkpoint of another device")
        files = [[p, st.st_size, st.st_mtime_ns] for p, st in ((p, os.stat(p)) for p in self.paths)]
        if meta.get("files") != files:
            raise ckpt.CheckpointError("device files changed since the checkpoint")
        n = self.nblocks
        raw = parts[b"blocks"]
        if len(raw) != 17 * n:
            raise ckpt.CheckpointError("checkpoint block table of another size")
        live = array("q", raw[: 8 * n])
        bseq = array("Q", raw[8 * n : 16 * n])
        state = bytearray(raw[16 * n :])
        for g, (hstate, hseq) in enumerate(headers):
            st = state[g]
            if st == B_HEADER:
                ok = hstate == "header"
            elif st == B_FREE:
                ok = hstate in (FREE, "zero")
            else:
                ok = hstate == USED and hseq == bseq[g]
            if not ok:
                raise ckpt.CheckpointError(f"block {g} does not match the checkpoint")
        self.index = ckpt.load_index(parts, meta)
        self.live, self.bseq, self.state = live, bseq, state
        self.used = sum(live)
        self.free = deque(g for g in range(n) if state[g] == B_FREE)
        self.next_seq = meta["next_seq"]
        self.set_names = list(meta["set_names"])
        self.set_ids = {name: i for i, name in enumerate(self.set_names)}
        self._settle_namespace(
            meta["used_bytes"],
            {self.set_ids[k]: v for k, v in meta["set_objects"]},
            meta["last_lut"],
            check_cutoffs=True,
        )

    # --- life cycle --------------------------------------------------------------------

    async def start(self) -> None:
        """Open the device (if not yet) and start the writer, flusher, defrag and ticker."""
        self.loop = asyncio.get_running_loop()
        self.open()
        self._io = ThreadPoolExecutor(1, thread_name_prefix=f"device-{self.name}-write")
        self._rd = ThreadPoolExecutor(1, thread_name_prefix=f"device-{self.name}-read")
        self._dq_event = asyncio.Event()
        self._erase_event = asyncio.Event()
        for g in range(self.nblocks):
            self._maybe_queue(g)
        if self.commit:
            try:
                self._helper = SyncHelper(self.fds, self.loop)
            except OSError as exc:
                log.warning(
                    "namespace %s: no sync helper process (%s); syncing from a thread",
                    self.name,
                    exc,
                )
        self._tasks = [
            asyncio.create_task(self._flusher()),
            asyncio.create_task(self._defragger()),
            asyncio.create_task(self._eraser()),
            asyncio.create_task(self._ticker()),
        ]

    def close(self, checkpoint: bool = True) -> None:
        """Write everything, sync, and (clean shutdown) checkpoint the index to lmdb."""
        if not self.opened or self.closed:
            return
        self.closed = True
        for task in self._tasks:
            task.cancel()
        for pool in (self._io, self._rd):
            if pool is not None:
                pool.shutdown(wait=True)
        if self._helper is not None:
            self._helper.close()
        try:
            if self.buf is not None:
                self._seal(kick=False)
            for g, job in list(self.unwritten.items()):
                self._write_sealed(g, *job)
            self.unwritten.clear()
            for fd in self.fds:
                os.fdatasync(fd)
        except OSError as exc:
            log.error("namespace %s: final device write failed: %s", self.name, exc)
            self.io_error = str(exc)
        failed = RecordError(ResultCode.UNKNOWN, "device write failed") if self.io_error else None
        if self._commit_fut is not None:
            self._commit_fut.resolve(failed)
        for fut in self._barriers:
            if not fut.done():
                fut.set_result(None) if failed is None else fut.set_exception(failed)
        if checkpoint and not self.io_error:
            try:
                started = time.monotonic()
                self.smd.write_checkpoint(self.name, self._checkpoint_parts())
                log.info(
                    "namespace %s: index checkpoint written in %.3fs (%d records)",
                    self.name,
                    time.monotonic() - started,
                    self.index.live,
                )
            except Exception:
                log.exception("namespace %s: index checkpoint failed (next start scans)", self.name)
        for fd in self.fds:
            os.close(fd)
        self.fds = []
        release_smd(self.smd)

    def _checkpoint_parts(self) -> dict[bytes, bytes]:
        state = bytearray(self.state)
        for g in range(self.nblocks):
            if state[g] in (B_OPEN, B_DEFRAG):
                state[g] = B_SEALED
        blocks = self.live.tobytes() + self.bseq.tobytes() + bytes(state)
        ns = self.ns
        meta = {
            "namespace": self.name,
            "uuid": self.uuid.hex(),
            "wbs": self.wbs,
            "file_size": self.file_size,
            "files": [
                [p, st.st_size, st.st_mtime_ns] for p, st in ((p, os.stat(p)) for p in self.paths)
            ],
            "next_seq": self.next_seq,
            "set_names": self.set_names,
            "used_bytes": ns.used_bytes if ns is not None else 0,
            "set_objects": [[k, v] for k, v in (ns.set_objects.items() if ns is not None else ())],
            "last_lut": ns.last_lut if ns is not None else 0,
        }
        return ckpt.dump(self.index, blocks, meta)

    # --- reads -------------------------------------------------------------------------

    def _locate(self, loc: int) -> tuple[Any, int] | None:
        """(buffer, offset) of the record copy at `loc`: memory, else read from the file."""
        addr = (loc & ADDR_MASK) << 4
        g = addr >> self.wbits
        buf = self.mem.get(g)
        if buf is not None:
            return buf, addr & self.omask
        size = (loc >> 40) << 4
        fd = self.fds[g // self.bpf]
        data = os.pread(fd, size, (g % self.bpf) * self.wbs + (addr & self.omask))
        self.st.file_reads += 1
        if check_record(data, 0, len(data), self.bseq[g]) <= 0:
            self.st.read_errors += 1
            log.error(
                "namespace %s: record at block %d offset %d fails its checksum",
                self.name,
                g,
                addr & self.omask,
            )
            return None
        return data, 0

    def get_meta(self, key: bytes) -> Record | None:
        return self.get(key, False)

    def get(self, key: bytes, value: bool = True) -> Record | None:
        hit = self.rcache.get(key)
        if hit is not None:
            self._ck, self._cl = key, hit
            self.st.record_cache_hits += 1
            return hit.rec
        c = self._resolve(key)
        j = c.j
        if j < 0:
            return None
        ent = self.index.ents[c.pid]
        k = j * W
        if ent[k + 4] & DEAD:
            return None
        found = self._locate(ent[k + 2])
        if found is None:
            return None
        buf, off = found
        _, _, n, _, _, kind, sl, _, _, gen, _, kl, lsize, void, lut = RECORD.unpack_from(buf, off)
        if not value:
            return Record(kind, None, gen, void, lut, lsize)
        v = off + RECORD_SIZE + sl + kl
        rec = Record(kind, unpack_value(kind, buf[v : off + n]), gen, void, lut, lsize)
        if kind <= HASH and lsize <= RECORD_CACHE_MAX:
            self._remember(key, c, rec)
        return rec

    def _remember(self, key: bytes, c: Lookup, rec: Record) -> None:
        """Cache `rec` in its lookup `c`; c.rec is None whenever c is not cached."""
        cache = self.rcache
        if len(cache) >= RECORD_CACHE:
            cache.popitem(last=False)[1].rec = None
        c.rec = rec
        cache[key] = c

    def _uncache(self, key: bytes) -> None:
        hit = self.rcache.pop(key, None)
        if hit is not None:
            hit.rec = None

    def _load(self, loc: int) -> tuple[bytes, Record] | None:
        found = self._locate(loc)
        if found is None:
            return None
        buf, off = found
        _, _, n, _, _, kind, sl, _, _, gen, _, kl, lsize, void, lut = RECORD.unpack_from(buf, off)
        k = off + RECORD_SIZE + sl
        key = bytes(buf[k : k + kl])
        return key, Record(kind, unpack_value(kind, buf[k + kl : off + n]), gen, void, lut, lsize)

    def _key_at(self, loc: int) -> bytes | None:
        found = self._locate(loc)
        if found is None:
            return None
        buf, off = found
        sl = buf[off + 15]
        kl = struct.unpack_from("<I", buf, off + 48)[0]
        k = off + RECORD_SIZE + sl
        return bytes(buf[k : k + kl])

    def _resolve(self, key: bytes) -> Lookup:
        """The key's Lookup, reusing the last one (shared with the record cache), so a
        read-then-write hashes once."""
        if key is self._ck or key == self._ck:
            c = self._cl
            j = c.j
            if j >= 0:
                ent = self.index.ents[c.pid]
                k = j * W
                if k + 1 < len(ent) and ent[k] == c.d0 and ent[k + 1] == c.d1:
                    return c
            c.j = self.index.find(c.pid, c.d0, c.d1)
            return c
        pid = hash_slot(key) >> 2
        h = blake2b(key, digest_size=18).digest()
        d0, d1 = _QQ.unpack_from(h)
        c = self._cl = Lookup(
            pid, pid.to_bytes(2, "little") + h, d0, d1, self.index.find(pid, d0, d1)
        )
        self._ck = key
        return c

    # --- writes ------------------------------------------------------------------------

    def put(self, key: bytes, pid: int, rec: Record, created: bool) -> None:
        c = self._resolve(key)
        cached, pid, j = c.rec, c.pid, c.j
        index = self.index
        k = j * W
        if j >= 0:
            ent = index.ents[pid]  # (_append does not touch the index)
            m2 = ent[k + 4]
            sid = (m2 >> SID_SHIFT) & SID_MASK
            old = 0 if m2 & DEAD else ent[k + 2]  # the current copy's loc
        else:
            m2 = old = 0
            sid = self._sid(split_key(key, self.ns.namespaces)[1]) if self.ns is not None else 0
        kind = rec.kind
        gen, void, lut = rec.gen, rec.void, rec.lut
        try:
            loc = self._append(
                c.dg,
                0,
                kind,
                gen,
                void,
                lut,
                rec.size,
                self.set_names[sid],
                key,
                pack_value(kind, rec.value),
                replace=old,
            )
        except BaseException:
            self._uncache(key)  # the caller may have changed it already
            raise
        m1 = gen | lut << 16
        low = (void & VOID_MASK) | sid << SID_SHIFT
        size = (loc >> 40) << 4
        if loc == old:  # rewritten in place: same copy, same size, only its metadata changed
            ent[k + 3] = m1
            ent[k + 4] = low | m2 >> CNT_SHIFT << CNT_SHIFT
        else:
            live = self.live
            live[self.buf_g] += size  # the new copy is in the open block
            if old:  # the old copy is no longer live (inline _unlive)
                g = (old & ADDR_MASK) >> self.ushift
                gone = (old >> 40) << 4
                left = live[g] - gone
                live[g] = left
                self.used += size - gone
                if left < self.lwm_bytes and self.state[g] == B_SEALED and not self.queued[g]:
                    self._maybe_queue(g)
            else:  # a new record, or a dead one written again
                index.live += 1
                index.nlive[pid] += 1
                self.used += size
            if j < 0:
                j = c.j = index.insert(pid, c.d0, c.d1, loc, m1, low | CNT_ONE)
            else:
                if m2 & DEAD:
                    index.dead -= 1
                ent[k + 2] = loc
                ent[k + 3] = m1
                if m2 >> CNT_SHIFT < CNT_MAX:
                    ent[k + 4] = low | ((m2 >> CNT_SHIFT) + 1) << CNT_SHIFT
                else:
                    ent[k + 4] = low | m2 >> CNT_SHIFT << CNT_SHIFT
                    index.add_copy(pid, j)
        if kind <= HASH and rec.size <= RECORD_CACHE_MAX:
            if cached is None:
                self._remember(key, c, rec)
            else:
                c.rec = rec
        elif cached is not None:
            self._uncache(key)
        st = self.st
        st.client_writes += 1
        st.client_write_bytes += size
        if self.commit:
            self._commit_wait()
        if self._throttled():
            self._relief_wait()

    def delete(self, key: bytes, pid: int, rec: Record) -> None:
        c = self._resolve(key)
        pid, dg, j = c.pid, c.dg, c.j
        if j < 0:
            return
        index = self.index
        ent = index.ents[pid]
        k = j * W
        m2 = ent[k + 4]
        if m2 & DEAD:
            return
        self._uncache(key)
        sid = (m2 >> SID_SHIFT) & SID_MASK
        old = ent[k + 2]
        now = self.ns.clock() if self.ns is not None else _now_ms()
        if (rec.void and rec.void <= now) or self._is_cut(sid, rec.lut):
            # Expired or truncated: the copy on the device is dead by itself, no write needed.
            ent[k + 4] = m2 | DEAD
            self.st.expired_unwritten += 1
        else:
            lut = max(now, rec.lut)
            loc = self._append(
                dg, F_TOMBSTONE, rec.kind, rec.gen, 0, lut, 0, self.set_names[sid], b"", b""
            )
            ent[k + 2] = loc
            ent[k + 3] = rec.gen | lut << 16
            ent[k + 4] = (sid << SID_SHIFT) | DEAD | TOMB | (m2 >> CNT_SHIFT) << CNT_SHIFT
            index.add_copy(pid, j)
            self.st.tombstones_written += 1
            if self.commit:
                self._commit_wait()
        self._unlive(old)
        index.live -= 1
        index.dead += 1
        index.nlive[pid] -= 1

    def _is_cut(self, sid: int, lut: int) -> bool:
        cutoffs = self.cutoffs
        if not cutoffs:
            return False
        c = cutoffs.get(None)
        if c is not None and lut <= c:
            return True
        c = cutoffs.get(self.set_names[sid]) if sid else None
        return c is not None and lut <= c

    def _unlive(self, loc: int) -> None:
        g = (loc & ADDR_MASK) >> self.ushift
        size = (loc >> 40) << 4
        left = self.live[g] - size
        self.live[g] = left
        self.used -= size
        if left < self.lwm_bytes and self.state[g] == B_SEALED and not self.queued[g]:
            self.queued[g] = 1
            self.dq.append(g)
            if self._dq_event is not None:
                self._dq_event.set()

    def _maybe_queue(self, g: int) -> None:
        if self.state[g] == B_SEALED and not self.queued[g] and self.live[g] < self.lwm_bytes:
            self.queued[g] = 1
            self.dq.append(g)
            if self._dq_event is not None:
                self._dq_event.set()

    def _append(
        self,
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
        defrag: bool = False,
        replace: int = 0,
    ) -> int:
        """Copy a record into the write buffer; returns its loc.

        `replace`: the loc of the record's current copy. If no byte of that copy has been
        handed to the device yet (open block, at or after `fpos`) and the new copy pads
        to the same size, the new copy overwrites it there and its loc is returned: the
        old one was never acknowledged as durable, nor read back from the device, so
        nothing can miss it. A hot key then costs one copy per group commit, not one
        copy per write."""
        ls, lk = len(setname), len(key)
        n = RECORD_SIZE + ls + lk + len(body)
        p = (n + 15) & ~15
        w = self.wpos
        if replace:
            addr = (replace & ADDR_MASK) << 4
            at = addr & self.omask
            if addr >> self.wbits == self.buf_g and at >= self.fpos and replace >> 40 == p >> 4:
                w = at  # (its padding may keep old bytes: records are walked by padded length)
                self.st.buffer_rewrites += 1
        if self.buf is None or w + p > self.limit:
            if p > self.limit - BLOCK_HEADER_SIZE:
                raise RecordError(
                    ResultCode.RECORD_TOO_BIG,
                    f"record of {n} bytes does not fit a write block of {self.wbs}",
                )
            self._roll(defrag)
            w = self.wpos
        buf = self.buf
        assert buf is not None  # (_roll opened one)
        head = RECORD_AFTER_CRC.pack(
            RECORD_MAGIC,
            n,
            FORMAT_VERSION,
            flags,
            kind,
            ls,
            self.buf_seq,
            digest,
            gen,
            0,
            lk,
            lsize,
            void,
            lut,
        )
        if n < SMALL_RECORD:  # one concatenation costs less than four slice writes
            rec = head + setname + key + body
            buf[w : w + n] = _CRC.pack(crc32(rec)) + rec
        else:  # large: copy the body once
            e = w + RECORD_SIZE
            buf[w + 4 : e] = head
            buf[e : e + ls] = setname
            e += ls
            buf[e : e + lk] = key
            buf[e + lk : w + n] = body
            _CRC.pack_into(buf, w, crc32(memoryview(buf)[w + 4 : w + n]))
        if w == self.wpos:
            self.wpos = w + p
            self.nrec += 1
        return (((self.buf_g << self.wbits) + w) >> 4) | (p >> 4) << 40

    def _append_copy(self, src, off: int, n: int) -> int:
        """Defrag: copy an intact record into the write buffer, as part of the new block."""
        p = (n + 15) & ~15
        w = self.wpos
        if self.buf is None or w + p > self.limit:
            self._roll(True)
            w = self.wpos
        buf = self.buf
        assert buf is not None  # (_roll opened one)
        buf[w : w + n] = src[off : off + n]
        _BSEQ.pack_into(buf, w + 16, self.buf_seq)
        _CRC.pack_into(buf, w, crc32(memoryview(buf)[w + 4 : w + n]))
        self.wpos = w + p
        self.nrec += 1
        self.st.defrag_write_bytes += p
        return (((self.buf_g << self.wbits) + w) >> 4) | (p >> 4) << 40

    def _roll(self, defrag: bool) -> None:
        """Seal the current block and open a free one."""
        if self.io_error and not defrag:
            raise RecordError(
                ResultCode.OUT_OF_SPACE,
                f"namespace {self.name}: device I/O error ({self.io_error})",
            )
        if self.buf is not None:
            self._seal()
        if not defrag and len(self.unwritten) * self.wbs > MAX_WRITE_QUEUE:
            raise RecordError(
                ResultCode.DEVICE_OVERLOAD, f"namespace {self.name}: device write queue too deep"
            )
        if len(self.free) <= (0 if defrag else RESERVE_BLOCKS):
            self._update_stop()
            raise RecordError(
                ResultCode.OUT_OF_SPACE, f"namespace {self.name}: device full (no free write block)"
            )
        g = self.free.popleft()
        seq = self.next_seq
        self.next_seq = seq + 1
        buf = bytearray(self.wbs)
        buf[: BLOCK_HEADER.size] = pack_block_header(seq, _now_ms())
        self.buf, self.buf_g, self.buf_seq = buf, g, seq
        self.wpos, self.fpos, self.wdone, self.nrec = BLOCK_HEADER_SIZE, 0, 0, 0
        self.state[g] = B_OPEN
        self.bseq[g] = seq
        self.live[g] = 0
        self.mem[g] = buf
        self._update_stop()

    def _seal(self, kick: bool = True) -> None:
        if self.buf is None:
            return
        g = self.buf_g
        self.unwritten[g] = (self.buf, self.buf_seq, self.wpos, self.nrec, self.fpos)
        self.state[g] = B_SEALED
        self.buf = None
        self.buf_g = -1
        self._maybe_queue(g)
        if kick:
            self._kick()

    # --- the writer: block writes and group commit -------------------------------------

    def _commit_wait(self) -> None:
        """Hold this write's reply until a sync covers it (one sync serves every waiter)."""
        fut = self._commit_fut
        if fut is None:
            if self.loop is None:
                self._sync_now()
                return
            fut = self._commit_fut = Ack(self.loop)
            self._kick()
        self.waits.append(fut)
        self.st.commit_waits += 1

    def _throttled(self) -> bool:
        """Whether writes are held back: free blocks are scarce while defrag reclaims some
        (`pressure`), or more than THROTTLE_WRITE_QUEUE of full blocks wait for the disk."""
        return self.pressure or len(self.unwritten) * self.wbs > THROTTLE_WRITE_QUEUE

    def _relief_wait(self) -> None:
        """Backpressure: this write's reply, and its connection, wait until the device
        catches up (free blocks reclaimed, or the write queue written out) instead of
        later writes failing with OUT_OF_SPACE or DEVICE_OVERLOAD."""
        if self.loop is None:
            return
        fut = self._relief
        if fut is None:
            fut = self._relief = self.loop.create_future()
        self.waits.append(fut)
        self.waits.throttle = True  # type: ignore[attr-defined]  # engine.Waits
        self.st.throttled_writes += 1

    def _release(self) -> None:
        fut, self._relief = self._relief, None
        if fut is not None and not fut.done():
            fut.set_result(None)

    def _kick(self) -> None:
        if self.loop is None:
            self._sync_now(sync=False)
            return
        if not self._cycle and not self._kicked:
            self._kicked = True
            # Two hops: the first runs before the loop's next poll for I/O, the second
            # after it, so the writes read in that poll join this cycle (after a group
            # commit, the replies it released bring their connections' next requests):
            # fewer, larger group commits (docs/benchmarks.md, "2026-12-06 (later)").
            self.loop.call_soon(self.loop.call_soon, self._start_cycle)

    def _start_cycle(self) -> None:
        self._kicked = False
        if self._cycle or self.closed:
            return
        jobs = list(self.unwritten.items())
        fut, barriers = self._commit_fut, self._barriers
        sync = fut is not None or bool(barriers) or self._flush_tail
        tail = None
        if sync and self.buf is not None and self.wpos > self.fpos:
            tail = (self.buf_g, self.buf, self.fpos, self.wpos)
            self.fpos = self.wpos
            self._tail_end = (self.buf_g, self.wpos)
        if not jobs and tail is None and not sync:
            return
        self._commit_fut, self._barriers, self._flush_tail = None, [], False
        self._cycle = True
        helper = self._helper
        if sync and helper is not None and helper.alive:
            # commit-to-device: page-cache writes here, the sync in the helper process.
            try:
                written = self._do_io(jobs, tail, False)
            except OSError as exc:
                self._cycle_done(jobs, fut, barriers, _Failed(exc))
                return
            helper.sync(partial(self._synced, jobs, fut, barriers, written))
            return
        cf = self.loop.run_in_executor(self._io, self._do_io, jobs, tail, sync)  # type: ignore[union-attr]
        cf.add_done_callback(partial(self._cycle_done, jobs, fut, barriers))

    def _synced(self, jobs: list, fut, barriers: list, written: int, error: str | None) -> None:
        if error and self._helper is not None and not self._helper.alive and not self.closed:
            # The helper is gone: the same sync from the writer thread.
            cf = self.loop.run_in_executor(self._io, self._do_io, [], None, True)  # type: ignore[union-attr]
            cf.add_done_callback(partial(self._resynced, jobs, fut, barriers, written))
            return
        self._cycle_done(jobs, fut, barriers, _Failed(OSError(error)) if error else _Done(written))

    def _resynced(self, jobs: list, fut, barriers: list, written: int, f) -> None:
        exc = f.exception()
        self._cycle_done(jobs, fut, barriers, _Done(written) if exc is None else _Failed(exc))

    def _write_sealed(
        self, g: int, buf: bytearray, seq: int, end: int, nrec: int, start: int
    ) -> None:
        buf[self.wbs - TRAILER_SIZE :] = pack_trailer(buf, seq, end, nrec)
        self._pwrite(g, buf, start, self.wbs)

    def _pwrite(self, g: int, buf, start: int, end: int) -> None:
        fd, base = self._block_pos(g)
        view = memoryview(buf)[start:end]
        pos = base + start
        while view:
            done = os.pwrite(fd, view, pos)
            view = view[done:]
            pos += done

    def _do_io(self, jobs: list, tail: tuple | None, sync: bool) -> int:
        """In the writer thread: write sealed blocks and the buffer's tail, then sync."""
        written = 0
        for g, job in jobs:
            self._write_sealed(g, *job)
            written += self.wbs - job[4]
        if tail is not None:
            g, buf, start, end = tail
            self._pwrite(g, buf, start, end)
            written += end - start
        if sync:
            for fd in self.fds:
                os.fdatasync(fd)
        return written

    def _cycle_done(self, jobs: list, fut, barriers: list, cf) -> None:
        self._cycle = False
        tail, self._tail_end = self._tail_end, None
        if self.closed:
            return
        exc = cf.exception()
        if exc is not None:
            self.io_error = str(exc)
            log.error("namespace %s: device write failed: %s", self.name, exc)
            err = RecordError(ResultCode.UNKNOWN, f"device write failed: {exc}")
            if fut is not None:
                fut.resolve(err)
            for f in barriers:
                if not f.done():
                    f.set_exception(err)
            self._update_stop()
            return
        st = self.st
        st.write_bytes += cf.result()
        if tail is not None and tail[0] == self.buf_g:
            self.wdone = tail[1]
        for g, _job in jobs:
            del self.unwritten[g]
            st.blocks_written += 1
            self._cache_add(g)
        if jobs and not self._throttled():
            self._release()  # writes held back by a deep write queue go on
        if fut is not None:
            st.commits += 1
            fut.resolve()
        for f in barriers:
            if not f.done():
                f.set_result(None)
        if self._commit_fut is not None or self.unwritten or self._barriers or self._flush_tail:
            # After the loop's next poll (_kick): the replies just released go out first,
            # and the writes that arrive meanwhile join this next group.
            self._kick()

    def _sync_now(self, sync: bool = True) -> None:
        """Without an event loop (tools, tests): write and sync in place."""
        for g, job in list(self.unwritten.items()):
            self._write_sealed(g, *job)
            del self.unwritten[g]
            self._cache_add(g)
        if sync and self.buf is not None and self.wpos > self.fpos:
            self._pwrite(self.buf_g, self.buf, self.fpos, self.wpos)
            self.fpos = self.wdone = self.wpos
        if sync:
            for fd in self.fds:
                os.fdatasync(fd)

    async def barrier(self) -> None:
        """Everything appended so far is on disk (written and synced)."""
        if self.loop is None:
            self._sync_now()
            return
        fut = self.loop.create_future()
        self._barriers.append(fut)
        self._kick()
        await fut

    def _cache_add(self, g: int) -> None:
        if g == self.buf_g or self.state[g] == B_FREE:
            return
        cap = self.config["post-write-cache"] // self.wbs
        if cap <= 0:
            self.mem.pop(g, None)
            return
        self.cache[g] = None
        self._trim_cache(cap)

    def _trim_cache(self, cap: int) -> None:
        cache = self.cache
        while len(cache) > cap:
            old, _ = cache.popitem(last=False)
            if old != self.buf_g and old not in self.unwritten:
                self.mem.pop(old, None)

    async def _flusher(self) -> None:
        """Write (and sync) a partly filled buffer at least every flush-max-ms."""
        while True:
            await asyncio.sleep(self.config["flush-max-ms"] / 1000)
            if self.buf is not None and self.wpos > self.fpos:
                self._flush_tail = True
                self._kick()

    # --- defragmentation ---------------------------------------------------------------

    async def _defragger(self) -> None:
        event = self._dq_event
        assert event is not None
        while True:
            if not self.dq:
                event.clear()
                await event.wait()
                continue
            urgent = self._urgent()
            batch: list[int] = []
            while self.dq and len(batch) < (DEFRAG_BATCH_URGENT if urgent else DEFRAG_BATCH):
                g = self.dq.popleft()
                self.queued[g] = 0
                if self.state[g] == B_SEALED and self.live[g] < self.lwm_bytes:
                    batch.append(g)
            if not batch:
                continue
            try:
                await self.defrag_blocks(batch, wait=False)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("namespace %s: defrag of blocks %s failed", self.name, batch)
                await asyncio.sleep(1)
                continue
            pause = 0 if self._urgent() else self.config["defrag-sleep"] * len(batch) / 1e6
            await asyncio.sleep(pause)

    def _urgent(self) -> bool:
        """Free blocks run low: defrag without pausing, in bigger batches."""
        floor = max(4 * self.config["stop-writes-avail-pct"], 25)
        return len(self.free) * 100 < self.usable * floor

    async def defrag_block(self, g: int) -> None:
        await self.defrag_blocks([g])

    async def defrag_blocks(self, blocks: list[int], wait: bool = True) -> None:
        """Move the blocks' current copies to the write buffer and hand the blocks to the
        eraser, which frees them once those copies are durable (`wait`: until then)."""
        done: list[tuple[int, list]] = []
        self._defragging += 1
        try:
            for g in blocks:
                self.state[g] = B_DEFRAG
            for g in blocks:
                done.append((g, await self._move_out(g)))
        except RecordError as exc:
            # No free block to move records into: the rest waits until space comes back.
            log.debug("namespace %s: defrag postponed: %s", self.name, exc.text)
            for g in blocks[len(done) :]:
                self.state[g] = B_SEALED
                self._maybe_queue(g)
            if not done:
                await asyncio.sleep(0.05)
                return
        except BaseException:
            for g in blocks:
                if self.state[g] == B_DEFRAG:
                    self.state[g] = B_SEALED
            raise
        finally:
            self._defragging -= 1
        self._to_erase.extend(done)
        if self._erase_event is not None:
            self._erase_event.set()
        if wait:
            await self._erase_pending()

    async def _eraser(self) -> None:
        """Free defragmented blocks, many per sync: copies durable, then blocks erased."""
        event = self._erase_event
        assert event is not None
        while True:
            if not self._to_erase:
                event.clear()
                await event.wait()
                continue
            try:
                await self._erase_pending()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("namespace %s: erasing defragmented blocks failed", self.name)
                await asyncio.sleep(1)

    async def _erase_pending(self) -> None:
        async with self._erase_lock:
            batch, self._to_erase = self._to_erase, []
            if not batch:
                return
            # The moved copies (and truncate points) must be durable before the old ones go.
            await self.barrier()
            if self._smd_pending:
                await asyncio.gather(*list(self._smd_pending), return_exceptions=True)
            ready = []
            for g, digests in batch:
                if self.live[g]:
                    log.error(
                        "namespace %s: block %d still holds %d live bytes after defrag; kept",
                        self.name,
                        g,
                        self.live[g],
                    )
                    self.state[g] = B_SEALED
                else:
                    ready.append((g, digests))
            if not ready:
                return
            try:
                await self.loop.run_in_executor(self._io, self._erase, [g for g, _ in ready])  # type: ignore[union-attr]
            except OSError as exc:
                self.st.erase_errors += 1
                log.error("namespace %s: erasing blocks failed: %s", self.name, exc)
                for g, _ in ready:
                    self.state[g] = B_SEALED
                return
            for g, digests in ready:
                self._erased(g, digests)
            self._release()

    async def _move_out(self, g: int) -> list[tuple[int, int, int, int]]:
        """Append the block's current copies anew; returns (pid, d0, d1, copies) in it."""
        buf: bytes | bytearray | None = self.mem.get(g)
        if buf is None:
            buf = await self.loop.run_in_executor(self._rd, self._read_block, g)  # type: ignore[union-attr]
        # A block still waiting for its write is this process's own bytes up to its end:
        # no checksums to verify (its trailer may not even be there yet).
        job = self.unwritten.get(g)
        recs = parse_block(buf, self.bseq[g], self.wbs, None if job is None else job[2])
        if recs.corrupt:
            log.warning(
                "namespace %s: defrag found %d corrupt records in block %d",
                self.name,
                recs.corrupt,
                g,
            )
        hdr = recs.hdr
        # Copies of one digest: only the block's last one can be current; all are erased.
        last, pids, d0s, d1s, counts = _digest_groups(hdr["pid"] & 0xFFF, hdr["d0"], hdr["d1"])
        lens = hdr["length"].tolist()
        offs = recs.offs.tolist()
        base = (g << self.wbits) >> 4
        index = self.index
        moved = 0
        for u in range(len(pids)):
            if u and not u % DEFRAG_SLICE:
                await asyncio.sleep(0)
            pid = pids[u]
            j = index.find(pid, d0s[u], d1s[u])
            if j < 0:
                continue
            i = last[u]
            ent = index.ents[pid]
            k = j * W
            loc = ent[k + 2]
            if (loc & ADDR_MASK) != base + (offs[i] >> 4):
                continue  # an older copy
            m2 = ent[k + 4]
            if m2 & DEAD and index.copies(pid, j) <= 1:
                continue  # the last copy of a dead record: it goes with the block
            nloc = self._append_copy(buf, offs[i], lens[i])
            ent = index.ents[pid]
            ent[k + 2] = nloc
            index.add_copy(pid, j)
            if not m2 & DEAD:
                size = (loc >> 40) << 4
                self.live[g] -= size
                self.live[(nloc & ADDR_MASK) >> self.ushift] += size
            moved += 1
        self.st.defrag_records += moved
        return list(zip(pids, d0s, d1s, counts, strict=True))

    def _erase(self, blocks: list[int]) -> None:
        """Mark blocks free on disk (their old records must never be read again)."""
        fds = set()
        for g in blocks:
            fd, off = self._block_pos(g)
            os.pwrite(fd, pack_block_header(self.bseq[g], _now_ms(), FREE_MAGIC), off)
            fds.add(fd)
        for fd in fds:
            os.fdatasync(fd)

    def _erased(self, g: int, digests: list[tuple[int, int, int, int]]) -> None:
        """Block g is erased on disk: its copies are gone; dead entries without copies go."""
        index = self.index
        for pid, d0, d1, n in digests:
            j = index.find(pid, d0, d1)
            if j < 0:
                continue
            if index.drop_copies(pid, j, n) == 0:
                if index.ents[pid][j * W + 4] & DEAD:
                    index.remove(pid, j)
                    index.dead -= 1
                    if self._cl.pid == pid:
                        self._ck = None  # entry numbers moved
                else:
                    log.error("namespace %s: live record lost its last counted copy", self.name)
                    index.add_copy(pid, j)
        self.state[g] = B_FREE
        self.live[g] = 0
        self.mem.pop(g, None)
        self.cache.pop(g, None)
        self.free.append(g)
        self.st.defrag_blocks += 1
        self._update_stop()

    # --- space -------------------------------------------------------------------------

    def _refresh_settings(self) -> None:
        pct = self.config["defrag-lwm-pct"]
        if pct != self._lwm_pct:
            self._lwm_pct = pct
            self.lwm_bytes = (self.limit - BLOCK_HEADER_SIZE) * pct // 100
            for g in range(self.nblocks):
                self._maybe_queue(g)
        self._trim_cache(self.config["post-write-cache"] // self.wbs)

    def avail_pct(self) -> float:
        return 100 * len(self.free) / max(self.usable, 1)

    def used_pct(self) -> float:
        return 100 * self.used / max(self.capacity, 1)

    def _update_stop(self) -> None:
        self.pressure = self._urgent() and bool(self.dq or self._to_erase or self._defragging)
        if not self._throttled():
            self._release()
        ns = self.ns
        if ns is None:
            return
        v = self.config.values
        reason = ""
        if self.io_error:
            reason = f"device I/O error: {self.io_error}"
        else:
            avail = self.avail_pct()
            if avail < v["stop-writes-avail-pct"]:
                reason = f"device available {avail:.1f}% is below stop-writes-avail-pct {v['stop-writes-avail-pct']}"
            elif v["stop-writes-used-pct"] and self.used_pct() >= v["stop-writes-used-pct"]:
                reason = (
                    f"device used {self.used_pct():.1f}% reached stop-writes-used-pct "
                    f"{v['stop-writes-used-pct']}"
                )
        stop = bool(reason)
        if stop != ns.stop_writes:
            ns.stop_writes = stop
            ns.stop_bytes = -1 if stop else float("inf")  # write() then calls check()
            log.warning(
                "namespace %s: stop-writes %s", self.name, f"ON ({reason})" if stop else "off"
            )
        ns.stop_reason = f"namespace {self.name} is at stop-writes ({reason})" if stop else ""

    def evict_wanted(self) -> bool:
        pct = self.config["evict-used-pct"]
        return bool(pct) and self.used_pct() >= pct

    async def _ticker(self) -> None:
        trimmed_at = self.index.live + self.index.dead
        while True:
            await asyncio.sleep(TICK)
            self._refresh_settings()
            self._update_stop()
            entries = self.index.live + self.index.dead
            if abs(entries - trimmed_at) > max(100_000, trimmed_at // 4):
                trim_heap()  # array growth left free heap memory behind
                trimmed_at = entries

    # --- nsup, eviction, truncation ----------------------------------------------------

    def sweep_candidates(
        self, pid: int, now: int, evict_before: int, cutoffs: dict[bytes | None, int]
    ) -> list[tuple[bytes, Record]]:
        """Live records of a partition that are expired, truncated or below the eviction
        cutoff, chosen from the index (only those are read from the device)."""
        if not self.index.nlive[pid]:
            return []
        a = self.index.view(pid)
        m2 = a[:, 4]
        void = m2 & np.uint64(VOID_MASK)
        hit = (void != 0) & ((void <= np.uint64(now)) | (void < np.uint64(max(evict_before, 0))))
        if cutoffs:
            cut = self._cut_array(cutoffs)[
                ((m2 >> np.uint64(SID_SHIFT)) & np.uint64(SID_MASK)).astype(np.int64)
            ]
            hit |= (a[:, 3] >> np.uint64(16)) <= cut
        hit &= (m2 & np.uint64(DEAD)) == 0
        out = []
        for loc in a[hit, 2].tolist():
            found = self._load(loc)
            if found is not None:
                out.append(found)
        return out

    def eviction_cutoff(self, tenths_pct: int) -> int:
        chunks = []
        for pid in range(N_PARTITIONS):
            if self.index.nlive[pid]:
                m2 = self.index.view(pid)[:, 4]
                void = m2[((m2 & np.uint64(DEAD)) == 0)] & np.uint64(VOID_MASK)
                chunks.append(void[void != 0])
        voids = np.concatenate(chunks) if chunks else np.zeros(0, dtype=np.uint64)
        if not len(voids):
            return 0
        share = max(1, len(voids) * tenths_pct // 1000)
        at = min(share, len(voids) - 1)
        return int(np.partition(voids, at)[at]) + (1 if share >= len(voids) else 0)

    def truncated(self, setname: bytes | None, cutoff: int) -> None:
        """Keep a truncate point durably (lmdb); the reply waits for it."""
        self.cutoffs[setname] = max(cutoff, self.cutoffs.get(setname, 0))
        if self.loop is None:
            self.smd.set_truncate(self.name, setname, cutoff)
            return
        fut = self.loop.run_in_executor(None, self.smd.set_truncate, self.name, setname, cutoff)
        self._smd_pending.add(fut)
        fut.add_done_callback(self._smd_pending.discard)
        self.waits.append(fut)

    def clear(self) -> None:
        """Everything was truncated (its cutoff is kept): every live entry is dead now."""
        for hit in self.rcache.values():
            hit.rec = None
        self.rcache.clear()
        index = self.index
        for pid in range(N_PARTITIONS):
            if index.nlive[pid]:
                view = np.frombuffer(index.ents[pid], dtype="<u8").reshape(-1, W)
                view[:, 4] |= np.uint64(DEAD)
                del view
                index.nlive[pid] = 0
        index.dead += index.live
        index.live = 0
        for g in range(self.nblocks):
            self.live[g] = 0
            self._maybe_queue(g)
        self.used = 0

    # --- iteration ---------------------------------------------------------------------

    def partition_keys(self, pid: int) -> list[bytes]:
        if not self.index.nlive[pid]:
            return []
        a = self.index.view(pid)
        locs = sorted(a[(a[:, 4] & np.uint64(DEAD)) == 0, 2].tolist(), key=lambda x: x & ADDR_MASK)
        keys = []
        for loc in locs:
            key = self._key_at(loc)
            if key is not None:
                keys.append(key)
        return keys

    def partition_count(self, pid: int) -> int:
        return self.index.nlive[pid]

    def keys(self) -> Iterator[bytes]:
        for pid in range(N_PARTITIONS):
            yield from self.partition_keys(pid)

    def count(self) -> int:
        return self.index.live

    # --- statistics --------------------------------------------------------------------

    def info(self) -> dict[str, object]:
        s = self.scan_stats
        out: dict[str, object] = {
            "stop_writes": int(bool(self.ns is not None and self.ns.stop_writes)),
            "device_total_bytes": self.usable * self.wbs,
            "device_used_bytes": self.used,
            "device_used_pct": round(self.used_pct(), 2),
            "device_available_bytes": len(self.free) * self.wbs,
            "device_available_pct": round(self.avail_pct(), 2),
            "device_free_blocks": len(self.free),
            "device_total_blocks": self.usable,
            "write_block_size": self.wbs,
            "commit_to_device": int(self.commit),
            "tombstones": self.index.dead,
            "defrag_q": len(self.dq),
            "write_buffer_bytes": self.wpos if self.buf is not None else 0,
            "write_buffer_unflushed_bytes": (self.wpos - self.wdone) if self.buf is not None else 0,
            "write_q": len(self.unwritten),
            "cache_blocks": len(self.cache),
            "cache_bytes": len(self.cache) * self.wbs,
            "index_bytes": self.index.nbytes(),
            "start_mode": self.start_mode,
            "start_ms": round(self.start_seconds * 1000, 1),
            "scan_ms": round(s.seconds * 1000, 1),
            "scan_blocks": s.blocks,
            "scan_records": s.records,
            "scan_corrupt_records": s.corrupt_records,
            "scan_skipped_bytes": s.skipped_bytes,
            "scan_bad_blocks": s.bad_blocks,
            "scan_stale_records": s.stale_records,
        }
        out.update(asdict(self.st))
        return out
