"""Publish/subscribe: who listens to what, and the frames they are sent (sans I/O).

The registry keeps channels, patterns and shard channels, each mapped to its subscribers
in subscription order (a dict used as an ordered set). A subscriber is any object with a
`proto` (2 or 3), a `push(frame)` that writes an out-of-band frame, and a `pubsub_mode`
flag the registry keeps true while it has any subscription (the connection's
subscribed-mode gate and the output-buffer class read it). The registry encodes each
message once per protocol: a RESP2 array or a RESP3 push (`>`), exactly Redis's frames.

`publish(channel, message) -> receivers` is the entry point for server code too
(keyspace notifications, client-side-caching invalidations): it delivers on this node only;
the cluster's relay (cluster/pubsub_relay.py) carries PUBLISH to the other nodes.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, Protocol

from .commands.args import glob_matcher

Matcher = Callable[[bytes], Any]


class Subscriber(Protocol):
    proto: int
    pubsub_mode: bool

    def push(self, frame: bytes) -> None: ...


@dataclass(slots=True, eq=False)
class Subscriptions:
    """One subscriber's channels, patterns and shard channels, in subscription order."""

    channels: dict[bytes, None] = field(default_factory=dict)
    patterns: dict[bytes, None] = field(default_factory=dict)
    shard: dict[bytes, None] = field(default_factory=dict)

    @property
    def count(self) -> int:
        """What SUBSCRIBE/PSUBSCRIBE answer: channels and patterns together, as Redis."""
        return len(self.channels) + len(self.patterns)

    @property
    def total(self) -> int:
        return len(self.channels) + len(self.patterns) + len(self.shard)


def _bulk(value: bytes) -> bytes:
    return b"$%d\r\n%s\r\n" % (len(value), value)


def frame(proto: int, items: Iterable[bytes | int | None]) -> bytes:
    """A push of bulk strings, integers and nulls: `>n` in RESP3, `*n` in RESP2."""
    parts = []
    for item in items:
        if item is None:
            parts.append(b"_\r\n" if proto == 3 else b"$-1\r\n")
        elif isinstance(item, int):
            parts.append(b":%d\r\n" % item)
        else:
            parts.append(_bulk(item))
    return (b">%d\r\n" if proto == 3 else b"*%d\r\n") % len(parts) + b"".join(parts)


class PubSub:
    def __init__(self) -> None:
        self.channels: dict[bytes, dict[Any, None]] = {}
        self.patterns: dict[bytes, tuple[Matcher, dict[Any, None]]] = {}
        self.shard: dict[bytes, dict[Any, None]] = {}
        self.subscribers: dict[Any, Subscriptions] = {}
        self.messages = 0  # messages delivered (statistics)

    # --- one subscriber ------------------------------------------------------------------

    def of(self, client: Any) -> Subscriptions | None:
        return self.subscribers.get(client)

    def _subs(self, client: Any) -> Subscriptions:
        subs = self.subscribers.get(client)
        if subs is None:
            subs = self.subscribers[client] = Subscriptions()
        return subs

    def _settle(self, client: Any, subs: Subscriptions) -> None:
        """Keep `pubsub_mode` (and the registry) in step with the subscriptions left."""
        if subs.total:
            if not client.pubsub_mode:
                client.pubsub_mode = True
        else:
            self.subscribers.pop(client, None)
            if client.pubsub_mode:
                client.pubsub_mode = False

    def subscribe(self, client: Any, channel: bytes) -> int:
        """Subscribe to a channel; the count SUBSCRIBE answers."""
        subs = self._subs(client)
        if channel not in subs.channels:
            subs.channels[channel] = None
            self.channels.setdefault(channel, {})[client] = None
        self._settle(client, subs)
        return subs.count

    def unsubscribe(self, client: Any, channel: bytes) -> int:
        subs = self._subs(client)
        if subs.channels.pop(channel, 0) is None:
            _remove(self.channels, channel, client)
        self._settle(client, subs)
        return subs.count

    def psubscribe(self, client: Any, pattern: bytes) -> int:
        subs = self._subs(client)
        if pattern not in subs.patterns:
            subs.patterns[pattern] = None
            entry = self.patterns.get(pattern)
            if entry is None:
                entry = self.patterns[pattern] = (glob_matcher(pattern), {})
            entry[1][client] = None
        self._settle(client, subs)
        return subs.count

    def punsubscribe(self, client: Any, pattern: bytes) -> int:
        subs = self._subs(client)
        if subs.patterns.pop(pattern, 0) is None:
            entry = self.patterns.get(pattern)
            if entry is not None:
                entry[1].pop(client, None)
                if not entry[1]:
                    del self.patterns[pattern]
        self._settle(client, subs)
        return subs.count

    def ssubscribe(self, client: Any, channel: bytes) -> int:
        subs = self._subs(client)
        if channel not in subs.shard:
            subs.shard[channel] = None
            self.shard.setdefault(channel, {})[client] = None
        self._settle(client, subs)
        return len(subs.shard)

    def sunsubscribe(self, client: Any, channel: bytes) -> int:
        subs = self._subs(client)
        if subs.shard.pop(channel, 0) is None:
            _remove(self.shard, channel, client)
        self._settle(client, subs)
        return len(subs.shard)

    def drop(self, client: Any) -> None:
        """Forget every subscription of a client (RESET, disconnect), telling it nothing."""
        subs = self.subscribers.pop(client, None)
        if subs is None:
            return
        for channel in subs.channels:
            _remove(self.channels, channel, client)
        for channel in subs.shard:
            _remove(self.shard, channel, client)
        for pattern in subs.patterns:
            entry = self.patterns.get(pattern)
            if entry is not None:
                entry[1].pop(client, None)
                if not entry[1]:
                    del self.patterns[pattern]
        subs.channels.clear()
        subs.patterns.clear()
        subs.shard.clear()
        client.pubsub_mode = False

    # --- publishing ------------------------------------------------------------------------

    def publish(self, channel: bytes, message: bytes) -> int:
        """Deliver to this node's channel and pattern subscribers; how many received it.

        Channel subscribers first, then pattern subscribers (one message per matching
        pattern subscription), as Redis does."""
        receivers = 0
        clients = self.channels.get(channel)
        if clients:
            body = b"$7\r\nmessage\r\n" + _bulk(channel) + _bulk(message)
            receivers += _deliver(clients, b"*3\r\n" + body, b">3\r\n" + body)
        if self.patterns:
            tail = _bulk(channel) + _bulk(message)
            for pattern, (match, subscribers) in list(self.patterns.items()):
                if match(channel) is None:
                    continue
                body = b"$8\r\npmessage\r\n" + _bulk(pattern) + tail
                receivers += _deliver(subscribers, b"*4\r\n" + body, b">4\r\n" + body)
        self.messages += receivers
        return receivers

    def spublish(self, channel: bytes, message: bytes) -> int:
        """Deliver to this node's subscribers of a shard channel."""
        clients = self.shard.get(channel)
        if not clients:
            return 0
        body = b"$8\r\nsmessage\r\n" + _bulk(channel) + _bulk(message)
        receivers = _deliver(clients, b"*3\r\n" + body, b">3\r\n" + body)
        self.messages += receivers
        return receivers

    def drop_shard_channels(self, lost: Callable[[bytes], bool]) -> int:
        """Unsubscribe everyone from the shard channels `lost` says this node no longer
        serves (their slot's mastership moved away), each told with a `sunsubscribe` push
        as Redis 7 does, so that it subscribes again where the slot went. How many
        subscriptions ended."""
        ended = 0
        for channel in [ch for ch in self.shard if lost(ch)]:
            for client in list(self.shard.get(channel, ())):
                count = self.sunsubscribe(client, channel)
                client.push(frame(client.proto, (b"sunsubscribe", channel, count)))
                ended += 1
        return ended

    # --- introspection ---------------------------------------------------------------------

    def active_channels(self, pattern: bytes | None) -> list[bytes]:
        return _matching(self.channels, pattern)

    def active_shard_channels(self, pattern: bytes | None) -> list[bytes]:
        return _matching(self.shard, pattern)

    def numsub(self, channel: bytes) -> int:
        return len(self.channels.get(channel, ()))

    def shard_numsub(self, channel: bytes) -> int:
        return len(self.shard.get(channel, ()))


def _remove(table: dict[bytes, dict[Any, None]], channel: bytes, client: Any) -> None:
    clients = table.get(channel)
    if clients is not None:
        clients.pop(client, None)
        if not clients:
            del table[channel]


def _deliver(clients: dict[Any, None], resp2: bytes, resp3: bytes) -> int:
    n = 0
    for client in list(clients):
        client.push(resp3 if client.proto == 3 else resp2)
        n += 1
    return n


def _matching(table: dict[bytes, Any], pattern: bytes | None) -> list[bytes]:
    if pattern is None:
        return list(table)
    match = glob_matcher(pattern)
    return [name for name in table if match(name) is not None]
