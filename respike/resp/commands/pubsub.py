"""Pub/sub commands: (P|S)SUBSCRIBE, (P|S)UNSUBSCRIBE, PUBLISH, SPUBLISH, PUBSUB.

The registry (resp/pubsub.py, `server.pubsub`) keeps the subscriptions and encodes the
frames; these handlers answer as Redis 7 does: one `subscribe`-style frame per channel
(a RESP3 push or a RESP2 array), `[unsubscribe, nil, 0]` when there was nothing to leave.
In a cluster PUBLISH reaches every node's subscribers and answers the cluster-wide count
(`server.cluster_publish`, cluster/pubsub_relay.py); shard channels live on the master of
their slot (routing in cluster/service.py).
"""

from __future__ import annotations

from typing import Any

from ...errors import RedisError
from .. import pubsub as registry
from ..encode import Status, encode, integer
from ..table import command, container

G = "pubsub"
_FLAGS = "pubsub noscript loading stale"


def _subscribed(c, kind: bytes, names: list[bytes], join) -> bytes:
    proto = c.proto
    return b"".join(registry.frame(proto, (kind, name, join(c, name))) for name in names)


def _unsubscribed(c, kind: bytes, names: list[bytes], current: list[bytes], leave) -> bytes:
    """One frame per channel left; with no names, every current one, or Redis's
    `[kind, nil, 0]` when there is none."""
    proto = c.proto
    if not names:
        names = list(current)
        if not names:
            subs = c.server.pubsub.of(c)
            count = 0 if subs is None else (len(subs.shard) if kind[0:1] == b"s" else subs.count)
            return registry.frame(proto, (kind, None, count))
    return b"".join(registry.frame(proto, (kind, name, leave(c, name))) for name in names)


def _current(c, which: str) -> list[bytes]:
    subs = c.server.pubsub.of(c)
    return [] if subs is None else list(getattr(subs, which))


@command(
    "subscribe",
    -2,
    _FLAGS,
    (0, 0, 0),
    G,
    "Listens for messages published to channels.",
    "channel...",
    since="2.0.0",
    complexity="O(N) where N is the number of channels to subscribe to.",
    example="SUBSCRIBE news",
)
def subscribe(c, a):
    ps = c.server.pubsub
    return _subscribed(c, b"subscribe", a[1:], ps.subscribe)


@command(
    "unsubscribe",
    -1,
    _FLAGS,
    (0, 0, 0),
    G,
    "Stops listening to messages posted to channels.",
    "[channel...]",
    since="2.0.0",
    complexity="O(N) where N is the number of channels to unsubscribe.",
    example="UNSUBSCRIBE news",
)
def unsubscribe(c, a):
    ps = c.server.pubsub
    return _unsubscribed(c, b"unsubscribe", a[1:], _current(c, "channels"), ps.unsubscribe)


@command(
    "psubscribe",
    -2,
    _FLAGS,
    (0, 0, 0),
    G,
    "Listens for messages published to channels that match one or more patterns.",
    "pattern...",
    since="2.0.0",
    complexity="O(N) where N is the number of patterns to subscribe to.",
    example="PSUBSCRIBE news.*",
)
def psubscribe(c, a):
    ps = c.server.pubsub
    return _subscribed(c, b"psubscribe", a[1:], ps.psubscribe)


@command(
    "punsubscribe",
    -1,
    _FLAGS,
    (0, 0, 0),
    G,
    "Stops listening to messages published to channels that match one or more patterns.",
    "[pattern...]",
    since="2.0.0",
    complexity="O(N) where N is the number of patterns to unsubscribe.",
    example="PUNSUBSCRIBE news.*",
)
def punsubscribe(c, a):
    ps = c.server.pubsub
    return _unsubscribed(c, b"punsubscribe", a[1:], _current(c, "patterns"), ps.punsubscribe)


@command(
    "ssubscribe",
    -2,
    _FLAGS,
    (1, -1, 1),
    G,
    "Listens for messages published to shard channels.",
    "shardchannel...",
    since="7.0.0",
    complexity="O(N) where N is the number of shard channels to subscribe to.",
    example="SSUBSCRIBE orders",
)
def ssubscribe(c, a):
    ps = c.server.pubsub
    return _subscribed(c, b"ssubscribe", a[1:], ps.ssubscribe)


@command(
    "sunsubscribe",
    -1,
    _FLAGS,
    (1, -1, 1),
    G,
    "Stops listening to messages posted to shard channels.",
    "[shardchannel...]",
    since="7.0.0",
    complexity="O(N) where N is the number of shard channels to unsubscribe.",
    example="SUNSUBSCRIBE orders",
)
def sunsubscribe(c, a):
    ps = c.server.pubsub
    return _unsubscribed(c, b"sunsubscribe", a[1:], _current(c, "shard"), ps.sunsubscribe)


@command(
    "publish",
    3,
    "pubsub loading stale fast may_replicate",
    (0, 0, 0),
    G,
    "Posts a message to a channel; answers how many subscribers received it "
    "(in a cluster, on every node).",
    "channel message",
    since="2.0.0",
    complexity="O(N+M) where N is the number of clients subscribed to the receiving channel "
    "and M is the total number of subscribed patterns (by any client).",
    example="PUBLISH news hello",
)
def publish(c, a):
    server = c.server
    receivers = server.pubsub.publish(a[1], a[2])
    relay = server.cluster_publish
    if relay is None or c.proxied:
        return integer(receivers)
    return relay(a[1], a[2], receivers)


@command(
    "spublish",
    3,
    "pubsub loading stale fast may_replicate",
    (1, 1, 1),
    G,
    "Posts a message to a shard channel (on the master of the channel's slot).",
    "shardchannel message",
    since="7.0.0",
    complexity="O(N) where N is the number of clients subscribed to the receiving shard channel.",
    example="SPUBLISH orders 42",
)
def spublish(c, a):
    return integer(c.server.pubsub.spublish(a[1], a[2]))


PUBSUB = container("pubsub", G, "A container for Pub/Sub commands.", since="2.8.0")


@command(
    "pubsub|channels",
    -2,
    "pubsub loading stale",
    (0, 0, 0),
    G,
    "Returns the active channels.",
    "[pattern]",
    since="2.8.0",
    complexity="O(N) where N is the number of active channels.",
    example="PUBSUB CHANNELS news.*",
)
def pubsub_channels(c, a):
    return _channels(c, a, c.server.pubsub.active_channels)


@command(
    "pubsub|shardchannels",
    -2,
    "pubsub loading stale",
    (0, 0, 0),
    G,
    "Returns the active shard channels.",
    "[pattern]",
    since="7.0.0",
    complexity="O(N) where N is the number of active shard channels.",
    example="PUBSUB SHARDCHANNELS",
)
def pubsub_shardchannels(c, a):
    return _channels(c, a, c.server.pubsub.active_shard_channels)


def _channels(c, a, active) -> bytes:
    if len(a) > 3:
        raise RedisError(
            f"ERR unknown subcommand or wrong number of arguments for "
            f"'{a[1].decode('utf-8', 'replace')}'. Try PUBSUB HELP."
        )
    return encode(active(a[2] if len(a) == 3 else None), c.proto)


@command(
    "pubsub|numsub",
    -2,
    "pubsub loading stale",
    (0, 0, 0),
    G,
    "Returns a count of subscribers to channels.",
    "[channel...]",
    since="2.8.0",
    complexity="O(N) for the NUMSUB subcommand, where N is the number of requested channels.",
    example="PUBSUB NUMSUB news",
)
def pubsub_numsub(c, a):
    ps = c.server.pubsub
    return _counts(c, a[2:], ps.numsub)


@command(
    "pubsub|shardnumsub",
    -2,
    "pubsub loading stale",
    (0, 0, 0),
    G,
    "Returns the count of subscribers of shard channels.",
    "[shardchannel...]",
    since="7.0.0",
    complexity="O(N) for the SHARDNUMSUB subcommand, where N is the number of requested shard "
    "channels.",
    example="PUBSUB SHARDNUMSUB orders",
)
def pubsub_shardnumsub(c, a):
    ps = c.server.pubsub
    return _counts(c, a[2:], ps.shard_numsub)


def _counts(c, names: list[bytes], count) -> bytes:
    items: list[Any] = []
    for name in names:
        items += [name, count(name)]
    return encode(items, c.proto)


@command(
    "pubsub|numpat",
    2,
    "pubsub loading stale",
    (0, 0, 0),
    G,
    "Returns a count of unique pattern subscriptions.",
    "",
    since="2.8.0",
    example="PUBSUB NUMPAT",
)
def pubsub_numpat(c, a):
    return integer(len(c.server.pubsub.patterns))


_HELP = [
    "PUBSUB <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "CHANNELS [<pattern>]",
    "    Return the currently active channels matching a <pattern> (default: '*').",
    "NUMPAT",
    "    Return number of subscriptions to patterns.",
    "NUMSUB [<channel> ...]",
    "    Return the number of subscribers for the specified channels, excluding",
    "    pattern subscriptions(default: no channels).",
    "SHARDCHANNELS [<pattern>]",
    "    Return the currently active shard level channels matching a <pattern> (default: '*').",
    "SHARDNUMSUB [<shardchannel> ...]",
    "    Return the number of subscribers for the specified shard level channel(s)",
    "HELP",
    "    Prints this help.",
]


@command(
    "pubsub|help",
    2,
    "loading stale",
    (0, 0, 0),
    G,
    "Returns helpful text about the different subcommands.",
    "",
    since="6.2.0",
    example="PUBSUB HELP",
)
def pubsub_help(c, a):
    return encode([Status(x) for x in _HELP], c.proto)
