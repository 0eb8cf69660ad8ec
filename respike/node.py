"""A respike node: one process, one event loop, the engine behind the RESP service.

The node owns what spans layers: start-up and shutdown, the data dir and node id,
background work (nsup expiry and eviction), dynamic configuration and truncation.
"""

from __future__ import annotations

import asyncio
import logging
import os
import secrets
import signal

from .config import Config, ConfigError
from .engine.engine import Engine
from .engine.namespace import Namespace
from .resp import commands
from .resp.commands.server import apply_config
from .resp.server import RespServer
from .resp.table import CommandTable

log = logging.getLogger("respike.node")

# Seconds between checks of the eviction and stop-writes thresholds.
WATCH_PERIOD = 1.0


def load_node_id(data_dir: str) -> int:
    """The node's 64-bit id, generated once and kept in the data dir."""
    path = os.path.join(data_dir, "node-id")
    try:
        with open(path) as fh:
            return int(fh.read().strip(), 16)
    except FileNotFoundError:
        node_id = secrets.randbits(63) | 1
        tmp = path + ".tmp"
        with open(tmp, "w") as fh:
            fh.write(f"{node_id:016x}\n")
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
        return node_id


class Node:
    def __init__(self, config: Config, config_path: str | None = None):
        self.config = config
        self.config_path = config_path
        self.node_config = config.node
        data_dir = self.node_config["data-dir"]
        self.node_id = load_node_id(data_dir)
        self.node_id_hex = f"{self.node_id:016x}"
        self.run_id = secrets.token_hex(20)
        self.clustered = False
        self.engine = Engine(config)
        self.table = CommandTable(commands.MODULES)
        self.server = RespServer(self.engine, self.table, self.node_config, self)
        self.commands_done = 0
        self._tasks: list[asyncio.Task] = []
        self._stopping: asyncio.Event | None = None
        self._stop_writes: dict[str, bool] = {}

    # --- what commands ask of the node -------------------------------------------------

    def total_commands(self) -> int:
        return self.commands_done + sum(c.commands_done for c in self.server.clients.values())

    def configure(self, changes: list[tuple[str, str]]) -> None:
        applied = apply_config(self.server, changes)
        for ns_name, key in applied:
            log.info("config set %s%s", f"{ns_name}." if ns_name else "", key)
            if ns_name is None and key == "log-level":
                logging.getLogger("respike").setLevel(self.node_config["log-level"].upper())

    def reset_stats(self) -> None:
        for ns in self.engine.namespaces.values():
            ns.stats.__init__()  # type: ignore[misc]
        self.commands_done = 0
        for client in self.server.clients.values():
            client.commands_done = 0

    def truncate(self, ns: Namespace, setname: bytes | None, before: int | None) -> None:
        cutoff = ns.truncate(setname, before)
        what = f"{ns.name}.{setname.decode('utf-8', 'replace')}" if setname else ns.name
        log.info("truncated %s (records last updated at or before %d)", what, cutoff)

    def truncate_all(self) -> None:
        for ns in self.engine.namespaces.values():
            self.truncate(ns, None, None)

    # --- life cycle --------------------------------------------------------------------

    async def start(self) -> None:
        bind, port = self.node_config["bind"], self.node_config["port"]
        try:
            await self.server.start(bind, port)
        except OSError as exc:
            raise ConfigError(f"--port/--bind: cannot listen on {bind}:{port}: {exc.strerror}") from None
        for ns in self.engine.namespaces.values():
            self._tasks.append(asyncio.create_task(self._nsup(ns)))
            self._tasks.append(asyncio.create_task(self._watch(ns)))
        names = ", ".join(self.config.namespaces)
        log.info("node %s serving namespaces %s on %s:%d", self.node_id_hex, names, bind, port)

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self.server.stop()
        self.engine.close()
        log.info("node %s stopped", self.node_id_hex)

    async def run(self) -> None:
        """Serve until SIGTERM or SIGINT."""
        self._stopping = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, self._stopping.set)
        await self.start()
        await self._stopping.wait()
        log.info("node %s shutting down", self.node_id_hex)
        await self.stop()

    # --- background work ---------------------------------------------------------------

    async def _nsup(self, ns: Namespace) -> None:
        """Expire (and evict) records every nsup-period, a partition at a time."""
        while True:
            period = ns.config["nsup-period"]
            await asyncio.sleep(period or 1)
            if period:
                await self._sweep(ns, 0)

    async def _sweep(self, ns: Namespace, evict_before: int) -> int:
        removed = 0
        for removed in ns.sweep(ns.clock(), evict_before):  # noqa: B007
            await asyncio.sleep(0)
        return removed

    async def _watch(self, ns: Namespace) -> None:
        """Evict above evict-used-pct; log stop-writes turning on and off."""
        while True:
            await asyncio.sleep(WATCH_PERIOD)
            if ns.used_bytes > ns.evict_bytes:
                cutoff = ns.eviction_cutoff()
                if cutoff:
                    before = ns.stats.evicted_objects
                    await self._sweep(ns, cutoff)
                    log.warning(
                        "namespace %s above evict-used-pct: evicted %d records expiring before %d",
                        ns.name, ns.stats.evicted_objects - before, cutoff,
                    )
            stopped = ns.used_bytes >= ns.stop_bytes
            if stopped != self._stop_writes.get(ns.name, False):
                self._stop_writes[ns.name] = stopped
                state = "ON: writes refused" if stopped else "off: writes accepted again"
                log.warning("namespace %s stop-writes %s (memory used %d bytes)", ns.name, state, ns.used_bytes)

