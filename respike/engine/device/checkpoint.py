"""Index checkpoint: written to lmdb at clean shutdown, so the next start skips the scan.

Parts (lmdb keys under the namespace): `meta` (msgpack: versions, device identity, the
size and mtime of every file after the final sync, counters, set names, checksums of the
other parts), `blocks` (per-block live bytes, sequence numbers and states), and `pNNN`
(64 partitions each: hash table and entry arrays as raw bytes). A start uses a checkpoint
only if every part is present and intact, the files are exactly as they were left, and
every block header on the device agrees with it; the checkpoint is deleted before the
first new write, so a later crash can never meet a stale one.
"""

from __future__ import annotations

import zlib
from array import array

import msgpack

from ...keyspace import N_PARTITIONS
from .index import MAX_LOAD, Index

CHECKPOINT_VERSION = 1
CHUNK = 64


class CheckpointError(Exception):
    """Why a checkpoint cannot be used (the start falls back to a scan)."""


def dump(index: Index, blocks: bytes, meta: dict) -> dict[bytes, bytes]:
    parts: dict[bytes, bytes] = {b"blocks": blocks}
    for c in range(N_PARTITIONS // CHUNK):
        rows = []
        for pid in range(c * CHUNK, (c + 1) * CHUNK):
            tab = index.tabs[pid]
            rows.append(
                [
                    tab.typecode,
                    tab.tobytes(),
                    index.ents[pid].tobytes(),
                    index.masks[pid],
                    index.nlive[pid],
                ]
            )
        parts[b"p%03d" % c] = msgpack.packb(rows, use_bin_type=True)
    meta = dict(meta)
    meta["version"] = CHECKPOINT_VERSION
    meta["live"] = index.live
    meta["dead"] = index.dead
    meta["extra"] = [[p, d0, d1, n] for (p, d0, d1), n in index.extra.items()]
    meta["crcs"] = {k.decode(): zlib.crc32(v) for k, v in parts.items()}
    parts[b"meta"] = msgpack.packb(meta, use_bin_type=True)
    return parts


def load_meta(parts: dict[bytes, bytes]) -> dict:
    raw = parts.get(b"meta")
    if raw is None:
        raise CheckpointError("no checkpoint")
    try:
        meta = msgpack.unpackb(raw, raw=False, strict_map_key=False)
    except Exception as exc:
        raise CheckpointError(f"checkpoint metadata unreadable ({exc})") from None
    if not isinstance(meta, dict) or meta.get("version") != CHECKPOINT_VERSION:
        raise CheckpointError("checkpoint of another version")
    for name, crc in meta["crcs"].items():
        part = parts.get(name.encode())
        if part is None or zlib.crc32(part) != crc:
            raise CheckpointError(f"checkpoint part {name} missing or damaged")
    return meta


def load_index(parts: dict[bytes, bytes], meta: dict) -> Index:
    index = Index()
    for c in range(N_PARTITIONS // CHUNK):
        rows = msgpack.unpackb(parts[b"p%03d" % c], raw=False)
        for i, (typecode, tab, ent, mask, nlive) in enumerate(rows):
            pid = c * CHUNK + i
            if ent:
                index.ents[pid] = array("Q", ent)
                index.tabs[pid] = array(typecode, tab)
                index.masks[pid] = mask
                index.limits[pid] = int((mask + 1) * MAX_LOAD)
            index.nlive[pid] = nlive
    index.live = meta["live"]
    index.dead = meta["dead"]
    index.extra = {(p, d0, d1): n for p, d0, d1, n in meta["extra"]}
    return index
