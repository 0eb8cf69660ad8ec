"""A respike node: one process, one event loop, the engine behind the RESP service.

The node owns what spans layers: start-up and shutdown, the data dir and node id,
background work (nsup expiry and eviction), dynamic configuration and truncation.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import os
import secrets
import signal
from typing import Any

import zmq

from .build_native import running
from .cluster.service import ClusterService
from .config import Config, ConfigError
from .engine.catalog import Catalog
from .engine.engine import Engine
from .engine.namespace import Namespace
from .engine.smd import open_smd, release_smd
from .metrics import Monitor
from .resp import commands
from .resp.commands.connection import VERSION
from .resp.commands.server import apply_config, config_items
from .resp.server import RespServer
from .resp.table import CommandTable
from .scripting.scripts import Scripting
from .scripting.udf import UdfModules

log = logging.getLogger("respike.node")

# Seconds between checks of the eviction and stop-writes thresholds.
WATCH_PERIOD = 1.0
GC_FREEZE_PERIOD = 5.0


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
        # Function libraries and UDF modules: kept in lmdb, the same on every node.
        self.smd = open_smd(data_dir)
        self.catalog = Catalog(self.node_id, self.smd)
        self.udfs = UdfModules(
            self.catalog, self.node_config["lua-max-memory"], self.node_config["udf-time-limit"]
        )
        self.table = CommandTable(commands.MODULES)
        self.scripts = Scripting(
            self.catalog, self.node_config["lua-max-memory"], VERSION, self.table.lookup
        )
        self.server = RespServer(self.engine, self.table, self.node_config, self)
        self.commands_done = 0
        self._tasks: list[asyncio.Task] = []
        self._stopping: asyncio.Event | None = None
        self._stop_writes: dict[str, bool] = {}
        self.cluster: ClusterService | None = None
        self.monitor = Monitor(self)  # /metrics, command rates, migration log lines

    # --- what commands ask of the node -------------------------------------------------

    def total_commands(self) -> int:
        return self.commands_done + sum(c.commands_done for c in self.server.clients.values())

    def configure(self, changes: list[tuple[str, str]]) -> None:
        before = config_items(self.server)
        applied = apply_config(self.server, changes)
        self.server.slowlog_threshold = self.node_config["slowlog-log-slower-than"]
        self.server.configure_output()
        after = config_items(self.server)
        for ns_name, key in applied:
            name = f"{ns_name}.{key}" if ns_name else key
            shown = (before[name], after[name]) if key != "requirepass" else ("***", "***")
            log.info("config set %s: %s -> %s", name, *shown)
            if ns_name is None and key == "log-level":
                logging.getLogger("respike").setLevel(self.node_config["log-level"].upper())
        self.udfs.time_limit_ms = self.node_config["udf-time-limit"]
        self.server.set_notify(self.node_config["notify-keyspace-events"])
        if self.cluster is not None:
            self.cluster.reconfigure()

    def reset_stats(self) -> None:
        for ns in self.engine.namespaces.values():
            ns.stats.__init__()  # type: ignore[misc]
        self.commands_done = 0
        self.server.output_limit_disconnections = 0
        for client in self.server.clients.values():
            client.commands_done = 0
        self.table.reset_stats()

    def truncate(
        self, ns: Namespace, setname: bytes | None, before: int | None, everywhere: bool = True
    ) -> Any:
        """Truncate here and (`everywhere`) on every other node of the cluster; returns
        None, or an awaitable that completes once every node has truncated too."""
        cutoff = ns.truncate(setname, before)
        remote = None
        if everywhere and self.cluster is not None and self.cluster.active:
            args = (
                [b"AS.TRUNCATE", ns.bname]
                + ([setname] if setname else [])
                + [b"BEFORE", b"%d" % cutoff]
            )
            remote = self.cluster.broadcast(args)
        what = f"{ns.name}.{setname.decode('utf-8', 'replace')}" if setname else ns.name
        log.info("truncated %s (records last updated at or before %d)", what, cutoff)
        if ns.persistent and ns.cutoffs:
            self._background(self._sweep(ns, 0))  # hidden now; removed by a sweep right away
        return remote

    def _background(self, coro) -> None:
        try:
            task = asyncio.get_running_loop().create_task(coro)
        except RuntimeError:  # no loop (tools): the next nsup round removes them
            coro.close()
            return
        self._tasks.append(task)
        task.add_done_callback(lambda t: t in self._tasks and self._tasks.remove(t))

    def truncate_all(self, everywhere: bool = True) -> Any:
        waits = [
            self.truncate(ns, None, None, everywhere) for ns in self.engine.namespaces.values()
        ]
        waits = [w for w in waits if w is not None]
        return asyncio.gather(*waits) if waits else None

    # --- life cycle --------------------------------------------------------------------

    async def start(self) -> None:
        bind, port = self.node_config["bind"], self.node_config["port"]
        await self._start_storage()
        await self.monitor.start()  # /metrics answers as soon as the node does
        try:
            await self.server.start(bind, port)
        except OSError as exc:
            raise ConfigError(
                f"--port/--bind: cannot listen on {bind}:{port}: {exc.strerror}"
            ) from None
        self.cluster = ClusterService(self)
        try:
            await self.cluster.start()
        except zmq.ZMQError as exc:
            raise ConfigError(
                f"fabric-port: cannot listen on {bind}:{self.cluster.fabric_port}: {exc}"
            ) from None
        self.server.info_sections["cluster"] = self.cluster.info_cluster
        self.server.info_sections["migrations"] = self.cluster.info_migrations
        gc.set_threshold(20_000, 20, 100)
        self._tasks.append(asyncio.create_task(self._freeze_heap()))
        for ns in self.engine.namespaces.values():
            self._tasks.append(asyncio.create_task(self._nsup(ns)))
            self._tasks.append(asyncio.create_task(self._watch(ns)))
        names = ", ".join(self.config.namespaces)
        log.info(
            "node %s serving namespaces %s on %s:%d (redis-cli -h %s -p %d; compiled engine "
            "modules: %s)",
            self.node_id_hex,
            names,
            bind,
            port,
            bind,
            port,
            ", ".join(running()) or "none, pure Python",
        )

    async def _start_storage(self) -> None:
        """Open device namespaces (checkpoint or cold-start scan) before serving."""
        for ns in self.engine.namespaces.values():
            try:
                await ns.storage.start()
            except OSError as exc:
                raise ConfigError(f"[namespaces.{ns.name}] device: {exc}") from None
            if ns.persistent and ns.cutoffs:
                self._background(self._sweep(ns, 0))
        if any(ns.persistent for ns in self.engine.namespaces.values()):
            self.server.info_sections["storage"] = storage_section

    async def stop(self) -> None:
        await self.monitor.stop()
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self.cluster is not None:
            await self.cluster.stop()
        await self.server.stop()
        self.engine.close()
        release_smd(self.smd)
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

    async def _freeze_heap(self) -> None:
        """Keep long-lived objects (records) out of the cyclic GC.

        Every record is a GC-tracked object; left alone, a full collection walks all of them
        (a pause of a second at ten million records). Record data never forms cycles, so
        whatever has survived a few seconds is moved to the permanent generation.
        """
        while True:
            await asyncio.sleep(GC_FREEZE_PERIOD)
            gc.freeze()

    async def _nsup(self, ns: Namespace) -> None:
        """Expire (and evict) records every nsup-period, a partition at a time."""
        while True:
            period = ns.config["nsup-period"]
            await asyncio.sleep(period or 1)
            if period:
                await self._sweep(ns, 0)
            if ns.tombstones:  # the tomb raider: durable deletes old enough to forget
                age = ns.config["tomb-raider-eligible-age"] * 1000
                ns.drop_old_tombstones(ns.clock() - age)

    async def _sweep(self, ns: Namespace, evict_before: int) -> int:
        removed = 0
        for removed in ns.sweep(ns.clock(), evict_before):  # noqa: B007
            self.engine.discard_waits()  # expiry and eviction answer no client
            await asyncio.sleep(0)
        return removed

    async def _watch(self, ns: Namespace) -> None:
        """Evict above evict-used-pct; log stop-writes turning on and off."""
        while True:
            await asyncio.sleep(WATCH_PERIOD)
            if ns.used_bytes > ns.evict_bytes or ns.storage.evict_wanted():
                cutoff = ns.eviction_cutoff()
                if cutoff:
                    before = ns.stats.evicted_objects
                    await self._sweep(ns, cutoff)
                    log.warning(
                        "namespace %s above evict-used-pct: evicted %d records expiring before %d",
                        ns.name,
                        ns.stats.evicted_objects - before,
                        cutoff,
                    )
            stopped = ns.used_bytes >= ns.stop_bytes or ns.stop_writes
            if stopped != self._stop_writes.get(ns.name, False):
                self._stop_writes[ns.name] = stopped
                state = "ON: writes refused" if stopped else "off: writes accepted again"
                why = ns.stop_reason or f"memory used {ns.used_bytes} bytes"
                log.warning("namespace %s stop-writes %s (%s)", ns.name, state, why)


def storage_section(server) -> dict[str, str]:
    """INFO storage: one line per device namespace (space, defrag, tombstones, buffers)."""
    out = {}
    for ns in server.engine.namespaces.values():
        if ns.persistent:
            out[ns.name] = ",".join(f"{k}={v}" for k, v in ns.storage.info().items())
    return out
