"""Where a Redis key lives: its hash slot, partition and digest.

Shared by every layer: clients route by slot, the cluster owns partitions
(partition = slot // 4, so a cluster-aware Redis client reaches the right node in
one hop), and the device engine indexes records by digest.
"""

from __future__ import annotations

from binascii import crc_hqx
from collections.abc import Mapping
from hashlib import blake2b
from typing import Final

N_SLOTS: Final = 16384
N_PARTITIONS: Final = 4096
SLOTS_PER_PARTITION: Final = N_SLOTS // N_PARTITIONS


def hash_slot(key: bytes) -> int:
    """CRC16-XMODEM of the key, or of its first non-empty `{hashtag}`, mod 16384."""
    start = key.find(b"{")
    if start >= 0:
        end = key.find(b"}", start + 1)
        if end > start + 1:
            key = key[start + 1 : end]
    return crc_hqx(key, 0) & 0x3FFF


def partition_of(key: bytes) -> int:
    return hash_slot(key) >> 2


def digest_of(key: bytes, pid: int | None = None) -> bytes:
    """20-byte record digest whose partition bits are Aerospike's (`*(uint32*)d & 0xFFF`).

    Two bytes carry the partition id (byte0 + 256 * (byte1 & 0xF)); the other 18 are
    blake2b of the key, which is about three times cheaper than RIPEMD-160 in Python and
    never leaves the server.
    """
    if pid is None:
        pid = partition_of(key)
    return pid.to_bytes(2, "little") + blake2b(key, digest_size=18).digest()


def split_key(key: bytes, namespaces: Mapping[bytes, object]) -> tuple[bytes | None, bytes, bytes]:
    """Split `ns:set:key` / `ns:key` / `key` into (namespace or None, set, user key).

    None means "the default namespace, whole key"; the set is b"" when absent.
    """
    i = key.find(b":")
    if i < 0 or key[:i] not in namespaces:
        return None, b"", key
    rest = key[i + 1 :]
    j = rest.find(b":")
    if j < 0:
        return key[:i], b"", rest
    return key[:i], rest[:j], rest[j + 1 :]
