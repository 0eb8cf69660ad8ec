"""Client-side caching (CLIENT TRACKING): who may cache which keys, and invalidations.

As Redis's tracking.c. In the default mode the server remembers, per key, the clients
that read it (the keys of read-only commands) and sends each one invalidation when the
key changes in any way: a client write, a replica or migrated copy, expiry, eviction,
truncation, its partition leaving the node. The key is then forgotten until read again.
In BCAST mode nothing is remembered: every change of a key under one of the client's
prefixes is sent, collected over one loop iteration.

Invalidations are RESP3 pushes (`>2 invalidate [keys]`) or, for a connection that
redirects them to a RESP2 connection in subscribed mode, messages on the
`__redis__:invalidate` channel. A flush (FLUSHALL, FLUSHDB, truncate) sends a null key
list. Invalidations for the connection running the command go out after its reply.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

from ..engine.namespace import CREATED, DELETED, WRITTEN
from ..errors import (
    TRACKING_BCAST_SWITCH,
    TRACKING_OPT_SWITCH,
    TRACKING_OPT_WITH_BCAST,
    TRACKING_OPTIN_AND_OPTOUT,
    TRACKING_PREFIX_NEEDS_BCAST,
    RedisError,
    prefix_overlap,
)

_INVALIDATE = b">2\r\n$10\r\ninvalidate\r\n"
_MESSAGE = b"*3\r\n$7\r\nmessage\r\n$20\r\n__redis__:invalidate\r\n"
CLIENT_WRITES = (WRITTEN, CREATED, DELETED)


@dataclass(slots=True)
class ClientTracking:
    """One connection's CLIENT TRACKING ON options."""

    redirect: int = 0
    bcast: bool = False
    optin: bool = False
    optout: bool = False
    noloop: bool = False
    prefixes: list[bytes] = field(default_factory=list)
    caching: bool = False  # CLIENT CACHING YES|NO given for the next command
    broken: bool = False  # the redirect target went away

    def flags(self) -> list[str]:
        """CLIENT TRACKINGINFO's flags after `on`."""
        out = ["bcast"] if self.bcast else []
        if self.optin:
            out += ["optin"] + (["caching-yes"] if self.caching else [])
        if self.optout:
            out += ["optout"] + (["caching-no"] if self.caching else [])
        if self.noloop:
            out.append("noloop")
        if self.broken:
            out.append("broken_redirect")
        return out


def _keys_payload(keys: list[bytes] | None, proto: int) -> bytes:
    if keys is None:
        return b"_\r\n" if proto == 3 else b"$-1\r\n"
    return b"*%d\r\n" % len(keys) + b"".join(b"$%d\r\n%s\r\n" % (len(k), k) for k in keys)


class Tracking:
    """The node's tracking table (key -> client ids) and BCAST prefixes."""

    def __init__(self, clients: dict[int, Any]):
        self.clients = clients  # the server's connections by id
        self.count = 0  # connections with tracking on
        self.keys: dict[bytes, dict[int, None]] = {}
        self.prefixes: dict[bytes, dict[int, None]] = {}  # BCAST prefix -> client ids
        # Per prefix, the keys changed this iteration -> id of the client that changed them.
        self.pending: dict[bytes, dict[bytes, int]] = {}
        self.current: Any = None  # the connection whose command is running (for NOLOOP)
        self._after: list[tuple[Any, list[bytes] | None]] = []
        self._scheduled = False

    # --- CLIENT TRACKING ---------------------------------------------------------------

    def enable(self, client: Any, new: ClientTracking, prefixes: list[bytes]) -> None:
        """Redis's checks, in its order, then tracking on with these options."""
        old = client.tracking
        if prefixes and not new.bcast:
            raise RedisError(TRACKING_PREFIX_NEEDS_BCAST)
        if old is not None and old.bcast != new.bcast:
            raise RedisError(TRACKING_BCAST_SWITCH)
        if new.bcast and (new.optin or new.optout):
            raise RedisError(TRACKING_OPT_WITH_BCAST)
        if new.optin and new.optout:
            raise RedisError(TRACKING_OPTIN_AND_OPTOUT)
        if old is not None and ((new.optin and old.optout) or (new.optout and old.optin)):
            raise RedisError(TRACKING_OPT_SWITCH)
        existing = old.prefixes if old is not None else []
        if new.bcast:
            _check_overlaps(existing, prefixes)
        if old is None:
            self.count += 1
        new.prefixes = list(existing)
        if new.bcast:
            for p in prefixes or [b""]:
                ids = self.prefixes.setdefault(p, {})
                if client.id not in ids:
                    ids[client.id] = None
                    new.prefixes.append(p)
        client.tracking = new

    def disable(self, client: Any) -> None:
        state = client.tracking
        if state is None:
            return
        for p in state.prefixes:
            ids = self.prefixes.get(p)
            if ids is not None:
                ids.pop(client.id, None)
                if not ids:
                    del self.prefixes[p]
                    self.pending.pop(p, None)
        self.count -= 1
        client.tracking = None

    # --- what the connections do -------------------------------------------------------

    def remember(self, client: Any, keys: list[bytes]) -> bool:
        """After a read-only command of a tracking connection (default mode); False if
        its mode says not to (BCAST, OPTIN without CACHING YES, OPTOUT with CACHING NO)."""
        state = client.tracking
        if state.bcast or (state.optin and not state.caching) or (state.optout and state.caching):
            return False
        cid = client.id
        for key in keys:
            ids = self.keys.get(key)
            if ids is None:
                self.keys[key] = {cid: None}
            else:
                ids[cid] = None
        return True

    def forget(self, client: Any, keys: list[bytes], tell: bool = True) -> bytes:
        """Invalidate `keys` for `client` alone, now (keys whose changes this node cannot
        see): the frame, if it goes to `client` itself, to follow its reply; a redirected
        one is sent to its target. `tell` False: only forget them."""
        cid = client.id
        gone = []
        for key in keys:
            ids = self.keys.get(key)
            if ids is not None and cid in ids:
                del ids[cid]
                if not ids:
                    del self.keys[key]
                gone.append(key)
        state = client.tracking
        if not gone or not tell or state is None or client.closing:
            return b""
        if state.redirect or client.proto != 3:
            self.send(client, gone)
            return b""
        return _INVALIDATE + _keys_payload(gone, 3)

    # --- changes -----------------------------------------------------------------------

    def changed(self, key: bytes | None, what: int) -> None:
        """The engine's listener (through the server's): a key changed, or every key did."""
        if key is None:
            self.flushed()
            return
        if self.prefixes:
            self._note_bcast(key)
        ids = self.keys.pop(key, None)
        if ids is None:
            return
        current = self.current if what in CLIENT_WRITES else None
        for cid in ids:
            target = self.clients.get(cid)
            state = target.tracking if target is not None else None
            if state is None or state.bcast:
                continue
            if target is current:
                if not state.noloop:
                    self._later(target, [key])
            else:
                self.send(target, [key])

    def flushed(self) -> None:
        """Every key is gone (FLUSHALL, FLUSHDB, truncate): a null invalidation to every
        tracking connection, once per loop iteration however many namespaces went."""
        self.keys.clear()
        for target in list(self.clients.values()):
            if target.tracking is not None and (target, None) not in self._after:
                self._later(target, None)

    def _note_bcast(self, key: bytes) -> None:
        by = self.current.id if self.current is not None else 0
        for prefix in self.prefixes:
            if key.startswith(prefix):
                self.pending.setdefault(prefix, {})[key] = by
                self._schedule()

    def _later(self, target: Any, keys: list[bytes] | None) -> None:
        self._after.append((target, keys))
        self._schedule()

    def _schedule(self) -> None:
        if not self._scheduled:
            self._scheduled = True
            asyncio.get_running_loop().call_soon(self._send_pending)

    def _send_pending(self) -> None:
        """After the commands of this iteration: invalidations held for the connections
        that caused them, and the BCAST batches (as Redis's beforeSleep)."""
        self._scheduled = False
        after, self._after = self._after, []
        for target, keys in after:
            if target.tracking is not None and not target.closing:
                self.send(target, keys)
        pending, self.pending = self.pending, {}
        for prefix, changed in pending.items():
            for cid in self.prefixes.get(prefix, {}):
                target = self.clients.get(cid)
                if target is None or target.tracking is None:
                    continue
                keys = [
                    k for k, by in changed.items() if not (target.tracking.noloop and by == cid)
                ]
                if keys:
                    self.send(target, keys)

    def send(self, client: Any, keys: list[bytes] | None) -> None:
        """One invalidation message to `client` or the connection it redirects to."""
        state = client.tracking
        target = client
        if state.redirect:
            target = self.clients.get(state.redirect)
            if target is None:
                state.broken = True
                if client.proto == 3:
                    client.push(b">2\r\n$21\r\ntracking-redir-broken\r\n:%d\r\n" % state.redirect)
                return
        payload = _keys_payload(keys, client.proto)
        if target.proto == 3:
            target.push(_INVALIDATE + payload)
        elif state.redirect and target.pubsub_mode:
            target.push(_MESSAGE + payload)


def _check_overlaps(existing: list[bytes], prefixes: list[bytes]) -> None:
    """Redis's checkPrefixCollisionsOrReply: no two prefixes may cover the same key."""
    for i, p in enumerate(prefixes):
        for old in existing:
            if old.startswith(p) or p.startswith(old):
                raise RedisError(prefix_overlap(_text(p), _text(old), provided=False))
        for q in prefixes[i + 1 :]:
            if q.startswith(p) or p.startswith(q):
                raise RedisError(prefix_overlap(_text(p), _text(q), provided=True))


def _text(b: bytes) -> str:
    return b.decode("utf-8", "replace")
