"""System metadata: one lmdb environment per data dir (`<data-dir>/smd`).

Holds what must survive restarts apart from the records themselves: truncate points now,
and the primary index checkpoint of device namespaces written at clean shutdown (users,
roles, index definitions and the roster can live here too). Named databases:

* `truncate`: `<namespace>\\0<set>` (empty set = whole namespace) -> cutoff, ms (8 bytes LE)
* `checkpoint`: `<namespace>\\0<part>` -> checkpoint parts (see device/checkpoint.py)
* `catalog`: `<module>\\0<key>` -> a packed catalog entry (see catalog.py: function
  libraries, record UDF modules)

lmdb commits are synchronous (fsync) by default; callers on the event loop run the
writing methods in a thread.
"""

from __future__ import annotations

import os
import threading

import lmdb

MAP_SIZE = 1 << 38  # address space only: the file grows as needed


class SystemMetadata:
    def __init__(self, data_dir: str):
        self.path = os.path.join(data_dir, "smd")
        os.makedirs(self.path, exist_ok=True)
        self.env = lmdb.open(self.path, map_size=MAP_SIZE, max_dbs=16, subdir=True)
        self.truncate_db = self.env.open_db(b"truncate")
        self.checkpoint_db = self.env.open_db(b"checkpoint")
        self.catalog_db = self.env.open_db(b"catalog")
        self.lock = threading.Lock()

    # --- truncate points -----------------------------------------------------------------

    def truncates(self, namespace: str) -> dict[bytes | None, int]:
        prefix = namespace.encode() + b"\x00"
        out: dict[bytes | None, int] = {}
        with self.env.begin(db=self.truncate_db) as txn:
            cur = txn.cursor()
            if cur.set_range(prefix):
                for key, value in cur:
                    if not key.startswith(prefix):
                        break
                    out[key[len(prefix) :] or None] = int.from_bytes(value, "little")
        return out

    def set_truncate(self, namespace: str, setname: bytes | None, cutoff: int) -> None:
        key = namespace.encode() + b"\x00" + (setname or b"")
        with self.lock, self.env.begin(write=True, db=self.truncate_db) as txn:
            old = txn.get(key)
            if old is None or int.from_bytes(old, "little") < cutoff:
                txn.put(key, cutoff.to_bytes(8, "little"))

    # --- the system-metadata catalog (engine/catalog.py) ----------------------------------

    def catalog_entries(self) -> dict[tuple[str, str], bytes]:
        out: dict[tuple[str, str], bytes] = {}
        with self.env.begin(db=self.catalog_db) as txn:
            for key, value in txn.cursor():
                module, _, name = bytes(key).partition(b"\x00")
                out[(module.decode(), name.decode())] = bytes(value)
        return out

    def put_catalog(self, items: list[tuple[str, str, bytes]]) -> None:
        """(module, key, packed entry) in one commit. Synchronous (one fsync): catalog
        changes are rare operator actions, and one that was acknowledged must survive a
        crash."""
        with self.lock, self.env.begin(write=True, db=self.catalog_db) as txn:
            for module, key, packed in items:
                txn.put(module.encode() + b"\x00" + key.encode(), packed)

    # --- index checkpoints ---------------------------------------------------------------

    def read_checkpoint(self, namespace: str) -> dict[bytes, bytes]:
        prefix = namespace.encode() + b"\x00"
        out: dict[bytes, bytes] = {}
        with self.env.begin(db=self.checkpoint_db, buffers=False) as txn:
            cur = txn.cursor()
            if cur.set_range(prefix):
                for key, value in cur:
                    if not key.startswith(prefix):
                        break
                    out[key[len(prefix) :]] = value
        return out

    def write_checkpoint(self, namespace: str, parts: dict[bytes, bytes]) -> None:
        prefix = namespace.encode() + b"\x00"
        with self.lock, self.env.begin(write=True, db=self.checkpoint_db) as txn:
            self._delete_prefix(txn, prefix)
            for name, value in parts.items():
                txn.put(prefix + name, value)

    def delete_checkpoint(self, namespace: str) -> None:
        prefix = namespace.encode() + b"\x00"
        with self.lock, self.env.begin(write=True, db=self.checkpoint_db) as txn:
            self._delete_prefix(txn, prefix)

    @staticmethod
    def _delete_prefix(txn, prefix: bytes) -> None:
        cur = txn.cursor()
        keys = []
        if cur.set_range(prefix):
            for key in cur.iternext(values=False):
                if not key.startswith(prefix):
                    break
                keys.append(key)
        for key in keys:
            txn.delete(key)

    def close(self) -> None:
        self.env.close()


_open: dict[str, SystemMetadata] = {}
_refs: dict[str, int] = {}


def open_smd(data_dir: str) -> SystemMetadata:
    """The data dir's environment, shared by every user in the process (lmdb wants one)."""
    path = os.path.realpath(data_dir)
    smd = _open.get(path)
    if smd is None:
        smd = _open[path] = SystemMetadata(path)
    _refs[path] = _refs.get(path, 0) + 1
    return smd


def release_smd(smd: SystemMetadata) -> None:
    path = os.path.dirname(smd.path)
    _refs[path] -= 1
    if not _refs[path]:
        del _refs[path]
        _open.pop(path).close()
