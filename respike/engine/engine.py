"""The node's namespaces, and which one a Redis key belongs to."""

from __future__ import annotations

from collections.abc import Callable

from ..config import Config
from .namespace import Namespace, wall_ms


class Engine:
    def __init__(self, config: Config, clock: Callable[[], int] = wall_ms, storage_factory=None):
        self.config = config
        # Awaitables a write must wait for before it is acknowledged (a device sync, replica
        # acknowledgements). Storage and replication append; the RESP layer drains it after
        # every command and holds that command's reply until they are done.
        self.waits: list = []
        self.namespaces: dict[bytes, Namespace] = {}
        for name, ns_config in config.namespaces.items():
            storage = storage_factory(ns_config, self.waits) if storage_factory else None
            self.namespaces[name.encode()] = Namespace(ns_config, storage, clock, self.namespaces)
        self.default = self.namespaces[config.default_namespace.encode()]
        self._longest = max(len(n) for n in self.namespaces)

    def namespace_for(self, key: bytes) -> Namespace:
        """`ns:...` selects a configured namespace; any other key is in the default one."""
        i = key.find(b":", 0, self._longest + 1)
        if i > 0:
            ns = self.namespaces.get(key[:i])
            if ns is not None:
                return ns
        return self.default

    def by_name(self, name: bytes) -> Namespace | None:
        return self.namespaces.get(name)

    def close(self) -> None:
        for ns in self.namespaces.values():
            ns.storage.close()
