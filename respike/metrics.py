"""The node's monitor: a Prometheus text endpoint, command rates and event log lines.

`Monitor(node)` is started and stopped with the node. Every second it takes a snapshot of
the command counters (so `latencies:` and `respike-admin show latencies` can say ops/sec
over the last 10 s) and watches migrations, logging when they start and finish. When
`metrics-port` is set it serves `GET /metrics` in Prometheus's text format (version 0.0.4)
on the node's bind address with a small asyncio HTTP server (no dependency).

Metric names follow the two well-known exporters, so their dashboards and alerts apply:

- oliver006/redis_exporter: `redis_*` (`redis_commands_total{cmd}`,
  `redis_commands_duration_seconds_total{cmd}`, `redis_latency_percentiles_usec{cmd}`,
  `redis_keyspace_hits_total`, `redis_connected_clients`, ...);
- aerospike-prometheus-exporter: `aerospike_node_stats_*`, `aerospike_namespace_*{ns}`,
  `aerospike_sets_*{ns,set}`, `aerospike_latencies_{read,write}_ms` histograms, each
  labelled with `service` (the node's `ip:port`).

Latency histograms are sampled (see respike/resp/stats.py) and scaled to the call counts.
"""

from __future__ import annotations

import asyncio
import logging
import math
import os
import time
from collections import deque
from typing import Any

from . import __version__
from .config import ConfigError
from .resp.commands.info import SECTIONS, namespace_stats
from .resp.commands.observe import (
    est_calls,
    est_usec,
    section,
    statistics,
    timed_commands,
)
from .resp.stats import bucket_upper

log = logging.getLogger("respike.monitor")

TICK = 1.0  # seconds between snapshots
RATE_WINDOW = 10  # snapshots: ops/sec is measured over the last 10 s (Aerospike's ticker)
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
MS_BUCKETS = [1 << i for i in range(17)]  # aerospike_latencies_*_ms: 1 ms .. 65536 ms
USEC_BUCKETS = [1 << i for i in range(21)]  # redis_latency_usec: 1 µs .. ~1 s


class Monitor:
    def __init__(self, node: Any):
        self.node = node
        self.server = node.server
        self._snapshots: deque[tuple[float, dict[str, int]]] = deque(maxlen=RATE_WINDOW + 1)
        self._task: asyncio.Task | None = None
        self._http: asyncio.base_events.Server | None = None
        self._migrating = 0
        self._done = (0, 0)
        self.scrapes = 0

    # --- life cycle --------------------------------------------------------------------

    async def start(self) -> None:
        cfg = self.node.node_config
        port = cfg.get("metrics-port", 0)
        if port:
            try:
                self._http = await asyncio.start_server(
                    self._serve, cfg["bind"], port, reuse_address=True
                )
            except OSError as exc:
                raise ConfigError(
                    f"metrics-port: cannot listen on {cfg['bind']}:{port}: {exc.strerror}"
                ) from None
            log.info("metrics endpoint on http://%s:%d/metrics", cfg["bind"], port)
        self._snapshot()
        self._task = asyncio.create_task(self._tick())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None
        if self._http is not None:
            self._http.close()
            await self._http.wait_closed()
            self._http = None

    # --- every second ------------------------------------------------------------------

    async def _tick(self) -> None:
        while True:
            await asyncio.sleep(TICK)
            try:
                self._snapshot()
                self._watch_migrations()
            except Exception:  # never let observation take the node down
                log.exception("monitor tick failed")

    def _snapshot(self) -> None:
        calls = {cmd.name: cmd.calls for cmd in self.server.table.every() if cmd.calls}
        self._snapshots.append((time.monotonic(), calls))

    def rates(self) -> dict[str, float]:
        """Calls per second of each command over the last RATE_WINDOW seconds."""
        if not self._snapshots:
            return {}
        t0, old = self._snapshots[0]
        elapsed = max(time.monotonic() - t0, TICK)
        out = {}
        for cmd in self.server.table.every():
            if cmd.calls:
                out[cmd.name] = max(cmd.calls - old.get(cmd.name, 0), 0) / elapsed
        return out

    def _watch_migrations(self) -> None:
        stats = section(self.server, "migrations")
        if not stats:
            return
        remaining = int(stats.get("migrate_partitions_remaining", 0))
        done = (
            int(stats.get("migrate_tx_partitions_done", 0)),
            int(stats.get("migrate_rx_partitions_done", 0)),
        )
        if remaining and not self._migrating:
            log.info(
                "migrations started: %d partitions to migrate (%s out, %s in)",
                remaining,
                stats.get("migrate_tx_partitions_remaining", "?"),
                stats.get("migrate_rx_partitions_remaining", "?"),
            )
        elif not remaining and (self._migrating or done != self._done):
            # (a round shorter than a tick is reported here too, by the counters of done ones)
            log.info(
                "migrations finished: %d partitions sent and %d received since start; "
                "%s records sent, %s received",
                done[0],
                done[1],
                stats.get("migrate_records_transmitted", "?"),
                stats.get("migrate_records_received", "?"),
            )
        self._migrating = remaining
        self._done = done

    # --- HTTP --------------------------------------------------------------------------

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 10)
            method, path, _ = (head.split(b"\r\n", 1)[0].decode("latin-1").split(" ") + ["", ""])[
                :3
            ]
            path = path.split("?", 1)[0]
            if method not in ("GET", "HEAD"):
                status, body, ctype = "405 Method Not Allowed", b"only GET\n", "text/plain"
            elif path == "/metrics":
                self.scrapes += 1
                status, body, ctype = "200 OK", render(self.node).encode(), CONTENT_TYPE
            elif path == "/":
                status, ctype = "200 OK", "text/html"
                body = b'<html><body><a href="/metrics">respike metrics</a></body></html>\n'
            else:
                status, body, ctype = "404 Not Found", b"not found: try /metrics\n", "text/plain"
            header = (
                f"HTTP/1.1 {status}\r\nContent-Type: {ctype}\r\nContent-Length: {len(body)}\r\n"
                "Connection: close\r\n\r\n"
            ).encode()
            writer.write(header if method == "HEAD" else header + body)
            await writer.drain()
        except (
            asyncio.IncompleteReadError,
            asyncio.LimitOverrunError,
            TimeoutError,
            ConnectionError,
        ):
            pass
        except Exception:
            log.exception("metrics request failed")
        finally:
            writer.close()


# --- the text format ---------------------------------------------------------------------


def _value(raw: Any) -> float | None:
    """A statistic as a number (booleans 1/0, hex cluster keys as integers), or None."""
    if isinstance(raw, bool):
        return float(raw)
    if isinstance(raw, int | float):
        return float(raw)
    text = str(raw).strip()
    low = text.lower()
    if low in ("true", "yes", "on"):
        return 1.0
    if low in ("false", "no", "off"):
        return 0.0
    try:
        return float(text)
    except ValueError:
        return None


def _num(value: float) -> str:
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    if value == int(value) and abs(value) < 1 << 53:
        return str(int(value))
    return repr(value)


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _labels(labels: dict[str, str]) -> str:
    if not labels:
        return ""
    return "{" + ",".join(f'{k}="{_escape(str(v))}"' for k, v in labels.items()) + "}"


def _metric_name(name: str) -> str:
    return "".join(ch if ch.isalnum() or ch == "_" else "_" for ch in name)


# Statistics that only go up (exported as counters, Aerospike's exporter does the same).
_COUNTER_SUFFIXES = (
    "_success",
    "_error",
    "_timeout",
    "_not_found",
    "_complete",
    "_transmitted",
    "_received",
    "_done",
    "_sent",
    "_dropped",
    "_changes",
    "_opened",
    "_rejected",
    "_detected",
    "_timeouts",
    "_moved",
    "_processed",
    "_records",
    "_bytes_written",
)
_COUNTER_NAMES = {
    "expired_objects",
    "evicted_objects",
    "truncated_objects",
    "fail_generation",
    "fail_key_busy",
    "fail_record_too_big",
}
_SKIP = {"node_id", "cluster_principal", "process_id", "storage_engine", "start_mode"}


def _is_counter(name: str) -> bool:
    return name in _COUNTER_NAMES or name.startswith("fail_") or name.endswith(_COUNTER_SUFFIXES)


class _Writer:
    def __init__(self) -> None:
        self.lines: list[str] = []
        self.families: dict[str, list[str]] = {}
        self.types: dict[str, tuple[str, str]] = {}

    def add(
        self,
        name: str,
        kind: str,
        help_: str,
        value: float,
        labels: dict[str, str] | None = None,
        sample: str | None = None,
    ) -> None:
        """One sample of family `name`; samples of a family are written together."""
        if name not in self.families:
            self.families[name] = []
            self.types[name] = (kind, help_)
        self.families[name].append(f"{sample or name}{_labels(labels or {})} {_num(value)}")

    def text(self) -> str:
        out = []
        for name, samples in self.families.items():
            kind, help_ = self.types[name]
            out.append(f"# HELP {name} {help_}")
            out.append(f"# TYPE {name} {kind}")
            out.extend(samples)
        return "\n".join(out) + "\n"


def render(node: Any) -> str:
    """Every figure of the node in Prometheus's text format."""
    w = _Writer()
    server = node.server
    _redis(w, node, server)
    _aerospike(w, node, server)
    return w.text()


def _redis(w: _Writer, node: Any, server: Any) -> None:
    info = {}
    for name in ("server", "clients", "memory", "stats", "cpu"):
        info.update(SECTIONS[name](server))
    w.add("redis_up", "gauge", "Whether the node answered (always 1 when scraped).", 1)
    w.add(
        "redis_instance_info",
        "gauge",
        "Information about the node.",
        1,
        {
            "redis_version": info["redis_version"],
            "respike_version": __version__,
            "redis_mode": info["redis_mode"],
            "run_id": info["run_id"],
            "tcp_port": str(info["tcp_port"]),
            "node_id": info["node_id"],
            "process_id": str(os.getpid()),
        },
    )
    w.add(
        "redis_uptime_in_seconds",
        "gauge",
        "Seconds since the node started.",
        info["uptime_in_seconds"],
    )
    w.add(
        "redis_start_time_seconds",
        "gauge",
        "Start time of the node (Unix seconds).",
        server.started,
    )
    gauges = [
        ("connected_clients", "connected_clients", "Client connections."),
        ("blocked_clients", "blocked_clients", "Clients blocked on a command."),
        ("config_maxclients", "maxclients", "Most client connections at once."),
        ("memory_used_bytes", "used_memory", "Memory used by the process (RSS)."),
        ("memory_used_rss_bytes", "used_memory_rss", "Resident set size of the process."),
        (
            "memory_used_dataset_bytes",
            "used_memory_dataset",
            "Bytes of record data in every namespace.",
        ),
    ]
    for metric, key, help_ in gauges:
        w.add(f"redis_{metric}", "gauge", help_, float(info[key]))
    counters = [
        ("commands_processed_total", "total_commands_processed", "Commands processed."),
        ("connections_received_total", "total_connections_received", "Connections accepted."),
        ("rejected_connections_total", "rejected_connections", "Connections refused (maxclients)."),
        (
            "client_output_buffer_limit_disconnections_total",
            "client_output_buffer_limit_disconnections",
            "Connections closed for passing client-output-buffer-limit.",
        ),
        ("keyspace_hits_total", "keyspace_hits", "Reads that found their record."),
        ("keyspace_misses_total", "keyspace_misses", "Reads that found no record."),
        ("expired_keys_total", "expired_keys", "Records removed because their TTL passed."),
        ("evicted_keys_total", "evicted_keys", "Records evicted above evict-used-pct."),
        ("cpu_sys_seconds_total", "used_cpu_sys", "System CPU seconds used."),
        ("cpu_user_seconds_total", "used_cpu_user", "User CPU seconds used."),
    ]
    for metric, key, help_ in counters:
        w.add(f"redis_{metric}", "counter", help_, float(info[key]))
    keys = sum(ns.count() for ns in server.engine.namespaces.values())
    w.add("redis_db_keys", "gauge", "Keys in the database (all namespaces).", keys, {"db": "db0"})
    entries = server.slowlog.entries
    w.add("redis_slowlog_length", "gauge", "Entries in the slow log.", len(entries))
    w.add(
        "redis_slowlog_last_id",
        "gauge",
        "Id of the newest slow log entry.",
        entries[0].id if entries else 0,
    )
    for cmd in server.table.every():
        if not (cmd.calls or cmd.failed_calls or cmd.rejected_calls):
            continue
        lbl = {"cmd": cmd.name}
        w.add("redis_commands_total", "counter", "Calls of each command.", cmd.calls, lbl)
        w.add(
            "redis_commands_duration_seconds_total",
            "counter",
            "Seconds spent in each command (estimated from timed calls).",
            est_usec(cmd) / 1e6,
            lbl,
        )
        w.add(
            "redis_commands_failed_calls_total",
            "counter",
            "Calls that answered an error.",
            cmd.failed_calls,
            lbl,
        )
        w.add(
            "redis_commands_rejected_calls_total",
            "counter",
            "Calls refused before running (arity, authentication).",
            cmd.rejected_calls,
            lbl,
        )
    for cmd in timed_commands(server):
        lbl = {"cmd": cmd.name}
        lat, calls, usec = cmd.latency, est_calls(cmd), est_usec(cmd)
        summary = "redis_latency_percentiles_usec"
        for q, pct in (("0.5", 50), ("0.99", 99), ("0.999", 99.9)):
            w.add(
                summary,
                "summary",
                "Latency percentiles of each command, microseconds (sampled).",
                lat.percentile(pct),
                {**lbl, "quantile": q},
            )
        w.add(summary, "summary", "", usec, lbl, summary + "_sum")
        w.add(summary, "summary", "", calls, lbl, summary + "_count")
        hist = "redis_latency_usec"
        scale = calls / lat.samples
        for bound in USEC_BUCKETS:
            n = sum(c for i, c in lat.counts.items() if bucket_upper(i) <= bound)
            w.add(
                hist,
                "histogram",
                "Latency of each command, microseconds (sampled, scaled to calls).",
                round(n * scale),
                {**lbl, "le": str(bound)},
                hist + "_bucket",
            )
        w.add(hist, "histogram", "", calls, {**lbl, "le": "+Inf"}, hist + "_bucket")
        w.add(hist, "histogram", "", usec, lbl, hist + "_sum")
        w.add(hist, "histogram", "", calls, lbl, hist + "_count")


def _aerospike(w: _Writer, node: Any, server: Any) -> None:
    cfg = server.node_config
    service = {"service": f"{cfg['bind']}:{cfg['port']}"}
    w.add(
        "aerospike_node_up",
        "gauge",
        "Whether the node answered (always 1 when scraped).",
        1,
        {**service, "build": __version__},
    )
    stats = statistics(server)
    key = stats.get("cluster_key")
    if key is not None:
        try:
            stats["cluster_key"] = int(str(key), 16)
        except ValueError:
            stats.pop("cluster_key")
    for name, raw in stats.items():
        value = _value(raw)
        if value is None or name in _SKIP:
            continue
        kind = "counter" if _is_counter(name) else "gauge"
        w.add(
            f"aerospike_node_stats_{_metric_name(name)}",
            kind,
            name.replace("_", " "),
            value,
            service,
        )
    for ns in server.engine.namespaces.values():
        values = namespace_stats(ns)
        lbl = {**service, "ns": ns.name, "storage_engine": str(values.get("storage_engine", ""))}
        for name, raw in values.items():
            value = _value(raw)
            if value is None or name in _SKIP:
                continue
            kind = "counter" if _is_counter(name) else "gauge"
            w.add(
                f"aerospike_namespace_{_metric_name(name)}",
                kind,
                name.replace("_", " "),
                value,
                lbl,
            )
    for ns in server.engine.namespaces.values():
        for raw_set, objects in sorted(ns.set_objects.items()):
            lbl = {**service, "ns": ns.name, "set": raw_set.decode("utf-8", "replace")}
            w.add("aerospike_sets_objects", "gauge", "objects", objects, lbl)
    _latency_groups(w, server, service)


def _latency_groups(w: _Writer, server: Any, service: dict[str, str]) -> None:
    """Aerospike-style read/write latency histograms in ms, summed over commands."""
    groups: dict[str, list[float]] = {
        "read": [0.0] * (len(MS_BUCKETS) + 2),
        "write": [0.0] * (len(MS_BUCKETS) + 2),
    }
    for cmd in timed_commands(server):
        kind = "write" if cmd.write else "read" if cmd.readonly else None
        if kind is None:
            continue
        lat = cmd.latency
        scale = est_calls(cmd) / lat.samples
        g = groups[kind]
        for j, ms in enumerate(MS_BUCKETS):
            g[j] += scale * sum(c for i, c in lat.counts.items() if bucket_upper(i) <= ms * 1000)
        g[-2] += est_calls(cmd)
        g[-1] += est_usec(cmd) / 1000
    for kind, g in groups.items():
        name = f"aerospike_latencies_{kind}_ms"
        help_ = f"{kind} latency, milliseconds (commands flagged {kind}, sampled)"
        for j, ms in enumerate(MS_BUCKETS):
            w.add(
                name, "histogram", help_, round(g[j]), {**service, "le": str(ms)}, name + "_bucket"
            )
        w.add(name, "histogram", help_, round(g[-2]), {**service, "le": "+Inf"}, name + "_bucket")
        w.add(name, "histogram", help_, g[-1], service, name + "_sum")
        w.add(name, "histogram", help_, round(g[-2]), service, name + "_count")
