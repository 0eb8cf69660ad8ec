"""The node's namespaces, and which one a Redis key belongs to."""

from __future__ import annotations

import asyncio

from ..config import Config
from .namespace import Clock, Namespace, Router


class Waits(list):
    """Awaitables the current command's reply must wait for (see Engine.waits).

    `throttle` is set when one of them is a device's relief (free blocks ran short): the
    connection then takes no further command until it is done, so one long pipeline
    cannot outrun defragmentation into stop-writes."""

    throttle = False


class Ack(asyncio.Future):
    """One acknowledgement that many writes wait on (a device's group commit).

    A connection whose held replies wait on this alone registers itself once in
    `listeners` and is told as soon as it resolves (`listener.acked(ack)`), instead of
    each reply adding a done-callback of its own: at -P 1 that per-write machinery cost
    more than the write. Everything else awaits it as the Future it is."""

    __slots__ = ("listeners",)

    def __init__(self, loop: asyncio.AbstractEventLoop):
        super().__init__(loop=loop)
        self.listeners: list = []

    def resolve(self, exc: BaseException | None = None) -> None:
        if self.done():
            return
        if exc is None:
            self.set_result(None)
        else:
            self.set_exception(exc)
        listeners, self.listeners = self.listeners, []
        for listener in listeners:
            listener.acked(self)


class Engine:
    def __init__(self, config: Config, clock: Clock | None = None, storage_factory=None):
        self.config = config
        self.clock = clock if clock is not None else Clock()
        # Awaitables a write must wait for before it is acknowledged (a device sync, replica
        # acknowledgements). Storage and replication append; the RESP layer drains it after
        # every command and holds that command's reply until they are done. Writes that
        # answer no client (replica copies, expiry, eviction) call `discard_waits`.
        self.waits = Waits()
        # A native command's COMMIT ALL|MASTER for the write it is making (None: the
        # namespace's commit-level); read by replication.
        self.request_commit: bool | None = None
        # (replication txn, replicas) of the write just made, for the client's WAIT.
        self.last_replication: tuple[int, int] | None = None
        self.namespaces: dict[bytes, Namespace] = {}
        if storage_factory is None:
            storage_factory = default_storage_factory(config)
        for name, ns_config in config.namespaces.items():
            storage = storage_factory(ns_config, self.waits)
            self.namespaces[name.encode()] = Namespace(
                ns_config, storage, self.clock, self.namespaces
            )
        self.default = self.namespaces[config.default_namespace.encode()]
        # `ns:...` selects a configured namespace; any other key is in the default one.
        self.router = Router(self.namespaces, self.default)
        self.namespace_for = self.router.route

    def discard_waits(self) -> None:
        """After writes that hold no client reply: what they asked to wait for must not be
        left for the next client command (nor pile up on a node no client writes to)."""
        self.waits.clear()
        self.waits.throttle = False

    def by_name(self, name: bytes) -> Namespace | None:
        return self.namespaces.get(name)

    def close(self) -> None:
        for ns in self.namespaces.values():
            ns.storage.close()


def default_storage_factory(config: Config):
    """Memory namespaces get the namespace's default (None); device namespaces get a
    DeviceStorage on their files under the data dir (opened when the node starts)."""
    data_dir = config.node["data-dir"]

    def make(ns_config, waits):
        if ns_config["storage-engine"] != "device":
            return None
        from .device.storage import DeviceStorage

        return DeviceStorage(ns_config, waits, data_dir)

    return make
