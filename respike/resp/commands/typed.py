"""A key's record as one Redis type: the first step of every collection command."""

from __future__ import annotations

from ...engine.namespace import Namespace
from ...engine.record import Record
from ...errors import WRONGTYPE, RedisError


def typed_record(kind: int, c, key: bytes, write: bool = False) -> tuple[Namespace, Record | None]:
    """The key's namespace and record (None if absent); WRONGTYPE if it holds another type.
    `write`: the command will change the record in place (refused first at stop-writes)."""
    ns = c.engine.namespace_for(key)
    rec = ns.get_for_change(key) if write else ns.read(key)
    if rec is not None and rec.kind != kind:
        raise RedisError(WRONGTYPE)
    return ns, rec


def index_range(start: int, stop: int, n: int) -> tuple[int, int] | None:
    """Redis's start/stop indexes (negative from the end) of a sequence of `n`, clamped to
    it; None when the range is empty."""
    if start < 0:
        start += n
    if stop < 0:
        stop += n
    if start < 0:
        start = 0
    if start > stop or start >= n:
        return None
    return start, min(stop, n - 1)
