"""respike-admin: the operator's tool (Aerospike's asadm and asinfo) over RESP.

    respike-admin [-h HOST] [-p PORT] [-U USER] [-P PASSWORD] [--json] COMMAND ...

It connects to one node (the seed), learns the other members from its `INFO cluster`
(`cluster_nodes`), and talks to each of them:

    info                              cluster summary: nodes, key, principal, namespaces, migrations
    info COMMAND [--all]              an asinfo-style info command (AS.INFO), e.g. `info statistics`
    info cluster-stable[:size=N]      the cluster key once every node is stable (no migrations)
    show cluster|namespaces|sets      tables, one row per node (with totals)
    show stats [--like PATTERN]       statistics, one column per node
    show config [--like PATTERN]      settings, one column per node, and which are dynamic
    show latencies [--like PATTERN]   per-command rates and latency percentiles per node
    config set [--namespace NS] KEY VALUE   change a dynamic setting on every node
    truncate NS [SET] --yes           delete every record of a namespace or set
    quiesce NODE / quiesce-undo NODE  hand a node's partitions over before maintenance / take them back
    migrations [--watch] [--until-done]     migration progress

Tables are aligned for people (colours only on a terminal, never with NO_COLOR); `--json`
prints the same data for scripts. Errors are one line on stderr; exit status 0 on success,
1 when a node failed or was unreachable, 2 for bad arguments.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import time
from collections.abc import Callable, Iterable
from typing import Any

import redis

from .resp.stats import SAMPLE_EVERY

EXIT_OK, EXIT_FAIL, EXIT_USAGE = 0, 1, 2
DEFAULT_PORT = 6379
PROG = "respike-admin"


class AdminError(Exception):
    """One line for the operator, and the exit status."""

    def __init__(self, message: str, code: int = EXIT_FAIL):
        super().__init__(message)
        self.code = code


class Unreachable(AdminError):
    pass


class Refused(AdminError):
    """The node answered an error."""


# --- talking to nodes --------------------------------------------------------------------


def split_address(text: str, default_port: int = DEFAULT_PORT) -> tuple[str, int]:
    host, sep, port = text.rpartition(":")
    if not sep:
        return text, default_port
    try:
        return host.strip("[]"), int(port)
    except ValueError:
        raise AdminError(f"bad address '{text}' (expected HOST or HOST:PORT)", EXIT_USAGE) from None


def _text(value: Any) -> Any:
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    if isinstance(value, list):
        return [_text(v) for v in value]
    if isinstance(value, dict):
        return {_text(k): _text(v) for k, v in value.items()}
    return value


class Conn:
    """One RESP connection to one node; every failure becomes a one-line AdminError."""

    def __init__(self, address: str, opts: argparse.Namespace):
        self.address = address
        host, port = split_address(address)
        self._conn = redis.Connection(
            host=host,
            port=port,
            username=opts.user,
            password=opts.password,
            socket_timeout=opts.timeout,
            socket_connect_timeout=opts.timeout,
            protocol=2,
        )

    def call(self, *args: Any) -> Any:
        try:
            self._conn.send_command(*args)
            return _text(self._conn.read_response())
        except redis.AuthenticationError as exc:
            if not self._conn.password:
                raise AdminError(
                    f"{self.address} needs a password (-P PASSWORD or RESPIKE_PASSWORD)"
                ) from None
            raise AdminError(f"{self.address}: authentication failed ({exc})") from None
        except redis.ResponseError as exc:
            text = str(exc)
            if text.startswith("NOAUTH"):
                raise AdminError(
                    f"{self.address} needs a password (-P PASSWORD or RESPIKE_PASSWORD)"
                ) from None
            raise Refused(f"{self.address}: {text}") from None
        except (redis.ConnectionError, redis.TimeoutError, OSError) as exc:
            self._conn.disconnect()
            raise Unreachable(f"cannot reach {self.address}: {_reason(exc)}") from None

    def close(self) -> None:
        self._conn.disconnect()


def _reason(exc: Exception) -> str:
    text = str(exc)
    m = re.search(r"connecting to \S+?\. (.+)", text)
    if m:
        text = m.group(1)
    return text.rstrip(".") or exc.__class__.__name__


def parse_info(text: str) -> dict[str, dict[str, str]]:
    """INFO text as {section: {field: value}} (section names in lower case)."""
    out: dict[str, dict[str, str]] = {}
    current = out.setdefault("", {})
    for line in text.splitlines():
        line = line.strip()
        if not line:
            continue
        if line.startswith("#"):
            current = out.setdefault(line[1:].strip().lower(), {})
            continue
        key, sep, value = line.partition(":")
        if sep:
            current[key] = value
    return out


def fields(line: str) -> dict[str, str]:
    """`a=1,b=2` (INFO namespace, sets, commandstats) as a dict."""
    out = {}
    for part in line.split(","):
        key, sep, value = part.partition("=")
        if sep:
            out[key] = value
    return out


def typed(value: Any) -> Any:
    """A statistic for JSON: integers and floats as numbers, the rest as text."""
    if not isinstance(value, str):
        return value
    if re.fullmatch(r"-?\d+", value):
        return int(value)
    if re.fullmatch(r"-?\d+\.\d*(e[-+]?\d+)?", value):
        return float(value)
    return value


class NodeView:
    """What one node told us (or why it could not)."""

    def __init__(self, node_id: str, address: str):
        self.node_id = node_id
        self.address = address
        self.conn: Conn | None = None
        self.info: dict[str, dict[str, str]] = {}
        self.error = ""

    @property
    def ok(self) -> bool:
        return not self.error

    @property
    def label(self) -> str:
        return self.node_id or self.address

    def section(self, name: str) -> dict[str, str]:
        return self.info.get(name, {})

    def namespaces(self) -> dict[str, dict[str, str]]:
        return {ns: fields(line) for ns, line in self.section("namespace").items()}

    def cluster(self) -> dict[str, str]:
        c = dict(self.section("cluster"))
        if not c.get("cluster_principal"):  # standalone: a cluster of one
            c.update(cluster_size="1", cluster_principal=self.node_id, cluster_integrity="true")
        c.setdefault("cluster_key", "0")
        return c

    def migrations(self) -> dict[str, str]:
        return self.section("migrations")

    def members(self) -> list[tuple[str, str]]:
        out = []
        for item in filter(None, self.section("cluster").get("cluster_nodes", "").split(",")):
            node_id, _, address = item.partition("@")
            out.append((node_id, address))
        return out

    def quiesced(self) -> bool:
        """The operator asked this node to quiesce (and did not undo it)."""
        return _yes(self.cluster().get("quiesced", "0"))

    def effectively_quiesced(self) -> bool:
        """The agreed view treats this node as quiesced (its partition table does)."""
        value = self.cluster().get("effective_is_quiesced")
        return self.quiesced() if value is None else _yes(value)

    def masters(self) -> int | None:
        """Partitions this node masters, when the node says (INFO cluster)."""
        for key in ("master_partitions", "partitions_master", "cluster_master_partitions"):
            value = self.cluster().get(key)
            if value is not None and value.isdigit():
                return int(value)
        return None


class Admin:
    def __init__(self, opts: argparse.Namespace):
        self.opts = opts
        self.seed = f"{opts.host}:{opts.port}" if ":" not in opts.host else opts.host
        self.nodes: list[NodeView] = []
        self.color = _use_color(opts)

    # --- discovery ---------------------------------------------------------------------

    def connect(self, address: str) -> Conn:
        return Conn(address, self.opts)

    def gather(self, sections: str = "all") -> list[NodeView]:
        """INFO from the seed and from every member any reachable node knows about."""
        seed = NodeView("", self.seed)
        seed.conn = self.connect(self.seed)
        self._load(seed, sections, fatal=True)
        nodes = {seed.node_id: seed}
        queue = list(seed.members())
        while queue:
            node_id, address = queue.pop(0)
            if node_id in nodes:
                continue
            view = NodeView(node_id, address)
            nodes[node_id] = view
            view.conn = self.connect(address)
            self._load(view, sections, fatal=False)
            queue.extend(view.members())
        self.nodes = sorted(nodes.values(), key=lambda n: n.node_id)
        return self.nodes

    def _load(self, view: NodeView, sections: str, fatal: bool) -> None:
        try:
            view.info = parse_info(view.conn.call("INFO", *sections.split()))  # type: ignore[union-attr]
        except Unreachable as exc:
            if fatal:
                raise
            view.error = str(exc)
            return
        view.node_id = view.section("server").get("node_id", view.node_id) or view.node_id

    def reachable(self) -> list[NodeView]:
        return [n for n in self.nodes if n.ok]

    def unreachable_warning(self) -> int:
        bad = [n for n in self.nodes if not n.ok]
        for n in bad:
            print(f"{PROG}: warning: {n.error}", file=sys.stderr)
        return EXIT_FAIL if bad else EXIT_OK

    def find(self, wanted: str) -> NodeView:
        """A node by id (or a unique prefix of it) or by address."""
        self.gather("server cluster")
        matches = [n for n in self.nodes if n.address == wanted or n.node_id == wanted.lower()]
        if not matches:
            matches = [n for n in self.nodes if n.node_id.startswith(wanted.lower())]
        if len(matches) != 1:
            known = ", ".join(f"{n.node_id}@{n.address}" for n in self.nodes)
            what = "no node" if not matches else "more than one node matches"
            raise AdminError(f"{what} '{wanted}' in the cluster (nodes: {known})", EXIT_USAGE)
        node = matches[0]
        if not node.ok:
            raise AdminError(node.error)
        return node

    # --- output --------------------------------------------------------------------------

    def emit(self, data: Any, human: Callable[[], str]) -> None:
        if self.opts.json:
            print(json.dumps(data, indent=2, default=str))
        else:
            print(human())

    def paint(self, text: str, style: str) -> str:
        if not self.color or not style:
            return text
        return f"{_STYLES[style]}{text}\x1b[0m"

    def table(
        self,
        title: str,
        headers: list[str],
        rows: list[list[Any]],
        styles: list[list[str]] | None = None,
    ) -> str:
        """Aligned columns: numbers right, text left; `styles` colours cells on a terminal."""
        cells = [[_show(v) for v in row] for row in rows]
        widths = [len(h) for h in headers]
        for row in cells:
            for i, v in enumerate(row):
                widths[i] = max(widths[i], len(v))
        numeric = [
            all(_is_number(r[i]) or r[i] in ("", "-") for r in cells)
            and any(_is_number(r[i]) for r in cells)
            for i in range(len(headers))
        ]

        def line(values: list[str], row_styles: list[str] | None) -> str:
            out = []
            for i, v in enumerate(values):
                padded = v.rjust(widths[i]) if numeric[i] else v.ljust(widths[i])
                out.append(self.paint(padded, row_styles[i] if row_styles else ""))
            return "  ".join(out).rstrip()

        lines = [self.paint(title, "title")] if title else []
        lines.append(
            self.paint(
                "  ".join(
                    h.rjust(widths[i]) if numeric[i] else h.ljust(widths[i])
                    for i, h in enumerate(headers)
                ).rstrip(),
                "header",
            )
        )
        for i, row in enumerate(cells):
            lines.append(line(row, styles[i] if styles else None))
        if not rows:
            lines.append("(none)")
        return "\n".join(lines)


_STYLES = {
    "title": "\x1b[1m",
    "header": "\x1b[4m",
    "bad": "\x1b[31;1m",
    "warn": "\x1b[33m",
    "good": "\x1b[32m",
    "dim": "\x1b[2m",
    "total": "\x1b[1m",
}


def _use_color(opts: argparse.Namespace) -> bool:
    return (
        not opts.no_color
        and not opts.json
        and sys.stdout.isatty()
        and not os.environ.get("NO_COLOR")
        and os.environ.get("TERM") != "dumb"
    )


def _show(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:.2f}"
    return str(value)


def _is_number(text: str) -> bool:
    return bool(re.fullmatch(r"-?[\d.]+( ?[KMGT]?i?B|%|s|m|h|d)?", text)) and any(
        c.isdigit() for c in text
    )


def human_bytes(n: Any) -> str:
    try:
        value = float(n)
    except (TypeError, ValueError):
        return "-"
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if value < 1024 or unit == "TiB":
            return f"{int(value)} B" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return str(n)


def human_duration(seconds: Any) -> str:
    try:
        s = int(seconds)
    except (TypeError, ValueError):
        return "-"
    if s < 60:
        return f"{s}s"
    if s < 3600:
        return f"{s // 60}m{s % 60:02d}s"
    if s < 86400:
        return f"{s // 3600}h{s % 3600 // 60:02d}m"
    return f"{s // 86400}d{s % 86400 // 3600:02d}h"


def _int(value: Any, default: int = 0) -> int:
    try:
        return int(float(value))
    except (TypeError, ValueError):
        return default


def _yes(value: Any) -> bool:
    return str(value).lower() in ("1", "true", "yes", "on")


def matches(name: str, pattern: str | None) -> bool:
    """`--like`: a glob if it has wildcards, else a substring (case-insensitive)."""
    if not pattern:
        return True
    import fnmatch

    name, pattern = name.lower(), pattern.lower()
    if any(ch in pattern for ch in "*?["):
        return fnmatch.fnmatchcase(name, pattern)
    return pattern in name


# --- info (cluster summary) -------------------------------------------------------------


def cluster_summary(nodes: list[NodeView]) -> dict[str, Any]:
    ok = [n for n in nodes if n.ok]
    keys = sorted({n.cluster()["cluster_key"] for n in ok})
    principals = sorted({n.cluster()["cluster_principal"] for n in ok})
    sizes = sorted({_int(n.cluster()["cluster_size"]) for n in ok})
    return {
        "size": sizes[0] if len(sizes) == 1 else sizes,
        "nodes_seen": len(nodes),
        "nodes_reachable": len(ok),
        "cluster_key": keys[0] if len(keys) == 1 else keys,
        "principal": principals[0] if len(principals) == 1 else principals,
        "integrity": all(_yes(n.cluster().get("cluster_integrity")) for n in ok) and len(keys) == 1,
        "migrate_partitions_remaining": sum(
            _int(n.migrations().get("migrate_partitions_remaining")) for n in ok
        ),
        "quiesced": [n.node_id for n in ok if n.quiesced()],
    }


def master_counts(nodes: list[NodeView]) -> dict[str, int | None]:
    """Partitions each node masters: from INFO cluster when every node says, else from one
    node's CLUSTER SLOTS (4 slots per partition)."""
    counts = {n.node_id: n.masters() for n in nodes if n.ok}
    if counts and all(v is not None for v in counts.values()):
        return counts
    for n in nodes:
        if not n.ok:
            continue
        try:
            slots = n.conn.call("CLUSTER", "SLOTS")  # type: ignore[union-attr]
        except AdminError:
            continue
        out: dict[str, int] = {m.node_id: 0 for m in nodes}
        for entry in slots or []:
            if len(entry) >= 3 and len(entry[2]) >= 3:
                owner = str(entry[2][2])[:16]
                out[owner] = out.get(owner, 0) + int(entry[1]) - int(entry[0]) + 1
        return {k: v // 4 for k, v in out.items()}
    return counts


def node_row(n: NodeView, masters: dict[str, int | None] | None = None) -> dict[str, Any]:
    if not n.ok:
        return {"node": n.node_id, "address": n.address, "status": "unreachable", "error": n.error}
    c, m = n.cluster(), n.migrations()
    return {
        "node": n.node_id,
        "address": n.address,
        "status": "ok",
        "principal": c.get("cluster_principal") == n.node_id,
        "cluster_key": c.get("cluster_key"),
        "cluster_size": _int(c.get("cluster_size")),
        "integrity": _yes(c.get("cluster_integrity")),
        "quiesced": n.quiesced(),
        "master_partitions": n.masters() if masters is None else masters.get(n.node_id),
        "migrate_partitions_remaining": _int(m.get("migrate_partitions_remaining")),
        "client_connections": _int(n.section("clients").get("connected_clients")),
        "uptime": _int(n.section("server").get("uptime_in_seconds")),
        "version": n.section("server").get("respike_version", ""),
    }


def namespace_rows(nodes: list[NodeView]) -> dict[str, dict[str, dict[str, Any]]]:
    """{namespace: {node id: statistics}} from INFO namespace."""
    out: dict[str, dict[str, dict[str, Any]]] = {}
    for n in nodes:
        if n.ok:
            for ns, stats in n.namespaces().items():
                out.setdefault(ns, {})[n.node_id] = {k: typed(v) for k, v in stats.items()}
    return out


def namespace_total(per_node: dict[str, dict[str, Any]], cluster_size: int) -> dict[str, Any]:
    stats = list(per_node.values())
    objects = sum(_int(s.get("objects")) for s in stats)
    rf = max(1, min(_int(stats[0].get("replication_factor"), 1), max(cluster_size, 1)))
    used = sum(_int(s.get("memory_used_bytes")) for s in stats)
    size = sum(_int(s.get("memory_size")) for s in stats)
    out = {
        "objects": objects,
        "records": objects // rf,
        "tombstones": sum(_int(s.get("tombstones")) for s in stats),
        "memory_used_bytes": used,
        "memory_used_pct": round(100 * used / size, 2) if size else 0.0,
        "stop_writes": any(_yes(s.get("stop_writes")) for s in stats),
        "hwm_breached": any(_yes(s.get("hwm_breached")) for s in stats),
        "replication_factor": rf,
        "storage_engine": stats[0].get("storage_engine", ""),
        "expired_objects": sum(_int(s.get("expired_objects")) for s in stats),
        "evicted_objects": sum(_int(s.get("evicted_objects")) for s in stats),
    }
    if any("device_used_bytes" in s for s in stats):
        dev_used = sum(_int(s.get("device_used_bytes")) for s in stats)
        dev_total = sum(_int(s.get("device_total_bytes")) for s in stats)
        out["device_used_bytes"] = dev_used
        out["device_used_pct"] = round(100 * dev_used / dev_total, 2) if dev_total else 0.0
    return out


def cmd_info(admin: Admin) -> int:
    nodes = admin.gather()
    summary = cluster_summary(nodes)
    masters = master_counts(nodes)
    rows = [node_row(n, masters) for n in nodes]
    spaces = namespace_rows(nodes)
    size = summary["size"] if isinstance(summary["size"], int) else max(summary["size"])
    totals = {ns: namespace_total(per_node, size) for ns, per_node in spaces.items()}
    data = {"cluster": summary, "nodes": rows, "namespaces": totals}

    def human() -> str:
        s = summary
        bits = [
            f"{s['size']} node{'s' if s['size'] != 1 else ''}",
            f"key {s['cluster_key']}",
            f"principal {s['principal']}",
            admin.paint("integrity ok", "good")
            if s["integrity"]
            else admin.paint("NO INTEGRITY", "bad"),
        ]
        remaining = s["migrate_partitions_remaining"]
        bits.append(
            admin.paint(f"migrations: {remaining} partitions remaining", "warn")
            if remaining
            else "migrations: none"
        )
        if s["quiesced"]:
            bits.append(admin.paint(f"quiesced: {', '.join(s['quiesced'])}", "warn"))
        out = [admin.paint("Cluster", "title") + ": " + " · ".join(bits), ""]
        out.append(_nodes_table(admin, rows))
        out.append("")
        out.append(_namespaces_summary(admin, totals))
        return "\n".join(out)

    admin.emit(data, human)
    return admin.unreachable_warning()


def _nodes_table(admin: Admin, rows: list[dict[str, Any]]) -> str:
    headers = [
        "node",
        "address",
        "status",
        "cluster key",
        "size",
        "integrity",
        "quiesced",
        "masters",
        "migrations",
        "clients",
        "uptime",
    ]
    table, styles = [], []
    for r in rows:
        if r["status"] != "ok":
            table.append([r["node"] or "?", r["address"], "unreachable"] + ["-"] * 8)
            styles.append(["", "", "bad"] + [""] * 8)
            continue
        node = r["node"] + (" *" if r["principal"] else "")
        table.append(
            [
                node,
                r["address"],
                "ok",
                r["cluster_key"],
                r["cluster_size"],
                r["integrity"],
                r["quiesced"],
                r["master_partitions"],
                r["migrate_partitions_remaining"],
                r["client_connections"],
                human_duration(r["uptime"]),
            ]
        )
        styles.append(
            [
                "",
                "",
                "good",
                "",
                "",
                "" if r["integrity"] else "bad",
                "warn" if r["quiesced"] else "",
                "",
                "warn" if r["migrate_partitions_remaining"] else "",
                "",
                "",
            ]
        )
    return admin.table("Nodes (* principal)", headers, table, styles)


def _namespaces_summary(admin: Admin, totals: dict[str, dict[str, Any]]) -> str:
    headers = [
        "namespace",
        "engine",
        "records",
        "objects",
        "tombstones",
        "memory used",
        "memory %",
        "device used",
        "device %",
        "RF",
        "stop-writes",
        "evicting",
    ]
    rows, styles = [], []
    for ns, t in sorted(totals.items()):
        rows.append(
            [
                ns,
                t["storage_engine"],
                t["records"],
                t["objects"],
                t["tombstones"],
                human_bytes(t["memory_used_bytes"]),
                t["memory_used_pct"],
                human_bytes(t["device_used_bytes"]) if "device_used_bytes" in t else "-",
                t.get("device_used_pct", "-"),
                t["replication_factor"],
                t["stop_writes"],
                t["hwm_breached"],
            ]
        )
        styles.append(
            [""] * 10 + ["bad" if t["stop_writes"] else "", "warn" if t["hwm_breached"] else ""]
        )
    return admin.table("Namespaces (records = objects / replication factor)", headers, rows, styles)


# --- show --------------------------------------------------------------------------------


def cmd_show_cluster(admin: Admin) -> int:
    nodes = admin.gather("server clients cluster migrations")
    masters = master_counts(nodes)
    rows = [node_row(n, masters) for n in nodes]
    for n, row in zip(nodes, rows, strict=True):
        if n.ok:
            c = n.cluster()
            row["view_changes"] = _int(c.get("cluster_view_changes"))
            row["alive_peers"] = _int(c.get("heartbeat_alive_peers"))
    admin.emit(
        {"cluster": cluster_summary(nodes), "nodes": rows}, lambda: _nodes_table(admin, rows)
    )
    return admin.unreachable_warning()


def cmd_show_namespaces(admin: Admin) -> int:
    nodes = admin.gather("server cluster namespace")
    spaces = namespace_rows(nodes)
    size = len([n for n in nodes if n.ok])
    data = {
        ns: {"nodes": per_node, "total": namespace_total(per_node, size)}
        for ns, per_node in spaces.items()
    }

    def human() -> str:
        headers = [
            "namespace",
            "node",
            "objects",
            "tombstones",
            "memory used",
            "memory %",
            "device used",
            "device %",
            "expired",
            "evicted",
            "stop-writes",
            "evicting",
        ]
        rows, styles = [], []
        for ns, entry in sorted(data.items()):
            for node_id, s in sorted(entry["nodes"].items()):
                rows.append(
                    [
                        ns,
                        node_id,
                        s.get("objects"),
                        s.get("tombstones", 0),
                        human_bytes(s.get("memory_used_bytes")),
                        s.get("memory_used_pct"),
                        human_bytes(s["device_used_bytes"]) if "device_used_bytes" in s else "-",
                        s.get("device_used_pct", "-"),
                        s.get("expired_objects"),
                        s.get("evicted_objects"),
                        _yes(s.get("stop_writes")),
                        _yes(s.get("hwm_breached")),
                    ]
                )
                styles.append(
                    [""] * 10
                    + [
                        "bad" if _yes(s.get("stop_writes")) else "",
                        "warn" if _yes(s.get("hwm_breached")) else "",
                    ]
                )
            t = entry["total"]
            rows.append(
                [
                    ns,
                    "total",
                    t["objects"],
                    t["tombstones"],
                    human_bytes(t["memory_used_bytes"]),
                    t["memory_used_pct"],
                    human_bytes(t["device_used_bytes"]) if "device_used_bytes" in t else "-",
                    t.get("device_used_pct", "-"),
                    t["expired_objects"],
                    t["evicted_objects"],
                    t["stop_writes"],
                    t["hwm_breached"],
                ]
            )
            styles.append(["total"] * 12)
        return admin.table("Namespaces", headers, rows, styles)

    admin.emit(data, human)
    return admin.unreachable_warning()


def cmd_show_sets(admin: Admin) -> int:
    nodes = admin.gather("server cluster sets")
    data: dict[str, dict[str, dict[str, Any]]] = {}
    for n in nodes:
        if n.ok:
            for name, line in n.section("sets").items():
                ns, _, setname = name.partition(".")
                entry = data.setdefault(
                    f"{ns}.{setname}", {"namespace": ns, "set": setname, "nodes": {}}
                )
                entry["nodes"][n.node_id] = {k: typed(v) for k, v in fields(line).items()}
    for entry in data.values():
        entry["objects"] = sum(_int(s.get("objects")) for s in entry["nodes"].values())

    def human() -> str:
        rows, styles = [], []
        for _, entry in sorted(data.items()):
            for node_id, s in sorted(entry["nodes"].items()):
                rows.append([entry["namespace"], entry["set"], node_id, s.get("objects")])
                styles.append([""] * 4)
            rows.append([entry["namespace"], entry["set"], "total", entry["objects"]])
            styles.append(["total"] * 4)
        return admin.table("Sets", ["namespace", "set", "node", "objects"], rows, styles)

    admin.emit(data, human)
    return admin.unreachable_warning()


def _columns_table(
    admin: Admin,
    title: str,
    nodes: list[NodeView],
    values: dict[str, dict[str, Any]],
    extra: dict[str, str] | None = None,
    extra_header: str = "",
) -> str:
    """Rows = names, columns = nodes (asadm's `show stat` layout); differing values stand out."""
    names = sorted({k for v in values.values() for k in v})
    if not names:
        return ""
    headers = ["name"] + [n.node_id for n in nodes] + ([extra_header] if extra is not None else [])
    rows, styles = [], []
    for name in names:
        cells = [values.get(n.node_id, {}).get(name, "-") for n in nodes]
        differ = len({str(c) for c in cells}) > 1
        rows.append([name] + cells + ([extra.get(name, "")] if extra is not None else []))
        styles.append(
            [""] + ["warn" if differ else ""] * len(cells) + ([""] if extra is not None else [])
        )
    return admin.table(title, headers, rows, styles)


def cmd_show_stats(admin: Admin) -> int:
    admin.gather()
    ok = admin.reachable()
    like = admin.opts.like
    service: dict[str, dict[str, Any]] = {}
    for n in ok:
        stats = parse_kv(n.conn.call("AS.INFO", "statistics"))  # type: ignore[union-attr]
        stats.update(n.section("stats"))
        service[n.node_id] = {k: typed(v) for k, v in sorted(stats.items()) if matches(k, like)}
    spaces: dict[str, dict[str, dict[str, Any]]] = {}
    for ns, per_node in namespace_rows(ok).items():
        spaces[ns] = {
            node: {k: v for k, v in s.items() if matches(k, like)} for node, s in per_node.items()
        }
    data = {"service": service, "namespaces": spaces}

    def human() -> str:
        parts = [_columns_table(admin, "Service statistics", ok, service)]
        for ns, per_node in sorted(spaces.items()):
            parts.append(_columns_table(admin, f"Namespace {ns} statistics", ok, per_node))
        return _joined(parts, like)

    admin.emit(data, human)
    return admin.unreachable_warning()


def _joined(parts: list[str], like: str | None) -> str:
    text = "\n\n".join(p for p in parts if p)
    return text or (f"(nothing matches '{like}')" if like else "(nothing)")


def parse_kv(text: str, sep: str = ";") -> dict[str, str]:
    out = {}
    for part in filter(None, text.split(sep)):
        key, _, value = part.partition("=")
        out[key] = value
    return out


def cmd_show_config(admin: Admin) -> int:
    admin.gather("server cluster namespace")
    ok = admin.reachable()
    like = admin.opts.like
    seed = ok[0].conn
    dynamic = {
        ctx: set(names.split(","))
        for ctx, names in parse_kv(seed.call("AS.INFO", "dynamic-config")).items()
    }  # type: ignore[union-attr]
    service = {
        n.node_id: {
            k: v
            for k, v in parse_kv(n.conn.call("AS.INFO", "get-config:context=service")).items()  # type: ignore[union-attr]
            if matches(k, like)
        }
        for n in ok
    }
    spaces: dict[str, dict[str, dict[str, str]]] = {}
    for n in ok:
        for ns in n.namespaces():
            if admin.opts.namespace and ns != admin.opts.namespace:
                continue
            values = parse_kv(n.conn.call("AS.INFO", f"get-config:context=namespace;id={ns}"))  # type: ignore[union-attr]
            spaces.setdefault(ns, {})[n.node_id] = {
                k: v for k, v in values.items() if matches(k, like)
            }
    if admin.opts.namespace and admin.opts.namespace not in spaces:
        raise AdminError(
            f"no namespace '{admin.opts.namespace}' (namespaces: {', '.join(sorted(namespace_rows(ok)))})",
            EXIT_USAGE,
        )
    data = {
        "service": service,
        "namespaces": spaces,
        "dynamic": {ctx: sorted(names) for ctx, names in dynamic.items()},
    }

    def human() -> str:
        dyn_s = {
            k: "yes" if k in dynamic.get("service", ()) else "no"
            for v in service.values()
            for k in v
        }
        parts = []
        if not admin.opts.namespace:
            parts.append(
                _columns_table(admin, "Service configuration", ok, service, dyn_s, "dynamic")
            )
        for ns, per_node in sorted(spaces.items()):
            dyn = {
                k: "yes" if k in dynamic.get("namespace", ()) else "no"
                for v in per_node.values()
                for k in v
            }
            parts.append(
                _columns_table(admin, f"Namespace {ns} configuration", ok, per_node, dyn, "dynamic")
            )
        return _joined(parts, like)

    admin.emit(data, human)
    return admin.unreachable_warning()


def cmd_show_latencies(admin: Admin) -> int:
    admin.gather("server cluster latencystats commandstats")
    like = admin.opts.like
    data: dict[str, list[dict[str, Any]]] = {}
    for n in admin.reachable():
        shares = {}
        for item in filter(None, n.conn.call("AS.INFO", "latencies:").split(";")):  # type: ignore[union-attr]
            name, _, values = item.partition(":")
            parts = values.split(",")
            if len(parts) == 5:
                shares[name] = [float(p) for p in parts[1:]]
        calls = {k[len("cmdstat_") :]: fields(v) for k, v in n.section("commandstats").items()}
        rows = []
        for key, line in n.section("latencystats").items():
            name = key[len("latency_percentiles_usec_") :]
            if not matches(name, like):
                continue
            pct = fields(line)
            rate, above1, above8, above64 = shares.get(name, [0.0, 0.0, 0.0, 0.0])
            rows.append(
                {
                    "command": name,
                    "calls": _int(calls.get(name, {}).get("calls")),
                    "ops_per_sec": rate,
                    "p50_usec": float(pct.get("p50", 0)),
                    "p99_usec": float(pct.get("p99", 0)),
                    "p99.9_usec": float(pct.get("p99.9", 0)),
                    "over_1ms_pct": above1,
                    "over_8ms_pct": above8,
                    "over_64ms_pct": above64,
                }
            )
        for kind in ("read", "write"):
            if kind in shares and matches(kind, like):
                rate, above1, above8, above64 = shares[kind]
                rows.append(
                    {
                        "command": f"({kind}s)",
                        "calls": None,
                        "ops_per_sec": rate,
                        "p50_usec": None,
                        "p99_usec": None,
                        "p99.9_usec": None,
                        "over_1ms_pct": above1,
                        "over_8ms_pct": above8,
                        "over_64ms_pct": above64,
                    }
                )
        rows.sort(key=lambda r: (r["calls"] is None, -(r["calls"] or 0), r["command"]))
        data[n.node_id] = rows

    def human() -> str:
        headers = [
            "node",
            "command",
            "calls",
            "ops/sec",
            "p50 µs",
            "p99 µs",
            "p99.9 µs",
            ">1ms %",
            ">8ms %",
            ">64ms %",
        ]
        rows, styles = [], []
        for node_id, entries in data.items():
            for e in entries:
                rows.append(
                    [
                        node_id,
                        e["command"],
                        e["calls"],
                        f"{e['ops_per_sec']:.1f}",
                        e["p50_usec"],
                        e["p99_usec"],
                        e["p99.9_usec"],
                        e["over_1ms_pct"],
                        e["over_8ms_pct"],
                        e["over_64ms_pct"],
                    ]
                )
                styles.append(
                    [""] * 7
                    + [
                        "warn" if e["over_1ms_pct"] >= 1 else "",
                        "bad" if e["over_8ms_pct"] >= 1 else "",
                        "bad" if e["over_64ms_pct"] > 0 else "",
                    ]
                )
        note = (
            f"Latencies (p50..p99.9 from sampled histograms: O(1) commands are timed 1 call in "
            f"{SAMPLE_EVERY}; ops/sec over the last 10 s)"
        )
        return admin.table(note, headers, rows, styles)

    admin.emit(data, human)
    return admin.unreachable_warning()


# --- config set --------------------------------------------------------------------------


def _config_error(text: str) -> str:
    """`ERR CONFIG SET failed (possibly related to argument 'x') - reason` -> `x: reason`."""
    m = re.search(r"CONFIG SET failed \(possibly related to argument '([^']*)'\) - (.*)", text)
    if m:
        return f"{m.group(1)}: {m.group(2)}"
    m = re.search(r"Unknown option or number of arguments for CONFIG SET - '([^']*)'", text)
    if m:
        return f"unknown setting '{m.group(1)}'"
    return text


def cmd_config_set(admin: Admin) -> int:
    opts = admin.opts
    name = f"{opts.namespace}.{opts.key}" if opts.namespace else opts.key
    nodes = admin.gather("server cluster namespace")
    if opts.namespace and not any(opts.namespace in n.namespaces() for n in admin.reachable()):
        known = ", ".join(sorted(namespace_rows(admin.reachable())))
        raise AdminError(f"no namespace '{opts.namespace}' (namespaces: {known})", EXIT_USAGE)
    results = []
    failed = False
    for n in nodes:
        row: dict[str, Any] = {"node": n.node_id, "address": n.address, "setting": name}
        if not n.ok:
            row.update(result="unreachable", error=n.error)
            failed = True
            results.append(row)
            continue
        try:
            n.conn.call("CONFIG", "SET", name, opts.value)  # type: ignore[union-attr]
            value = n.conn.call("CONFIG", "GET", name)  # type: ignore[union-attr]
            row.update(result="ok", value=dict(zip(value[::2], value[1::2], strict=True)).get(name))
        except Refused as exc:
            reason = _config_error(str(exc).split(": ", 1)[-1])
            if not results or all(r["result"] != "ok" for r in results):
                # the first node refused: every node would (same rules); one line, no table
                raise AdminError(reason) from None
            row.update(result="error", error=reason)
            failed = True
        except Unreachable as exc:
            row.update(result="unreachable", error=str(exc))
            failed = True
        results.append(row)

    def human() -> str:
        rows, styles = [], []
        for r in results:
            rows.append(
                [
                    r["node"],
                    r["address"],
                    r["setting"],
                    r.get("value", "-"),
                    r["result"] if r["result"] == "ok" else f"{r['result']}: {r.get('error', '')}",
                ]
            )
            styles.append(["", "", "", "", "good" if r["result"] == "ok" else "bad"])
        return admin.table(
            f"config set {name} {opts.value}",
            ["node", "address", "setting", "value", "result"],
            rows,
            styles,
        )

    admin.emit({"setting": name, "value": opts.value, "nodes": results}, human)
    return EXIT_FAIL if failed else EXIT_OK


# --- truncate ----------------------------------------------------------------------------


def cmd_truncate(admin: Admin) -> int:
    opts = admin.opts
    what = (
        f"set '{opts.set}' of namespace '{opts.namespace}'"
        if opts.set
        else f"namespace '{opts.namespace}'"
    )
    if not opts.yes:
        if not sys.stdin.isatty():
            raise AdminError(
                f"truncate deletes every record of {what}: add --yes to confirm", EXIT_USAGE
            )
        answer = input(f"Delete every record of {what} on every node? [y/N] ")
        if answer.strip().lower() not in ("y", "yes"):
            print("not truncated")
            return EXIT_FAIL
    conn = admin.connect(admin.seed)
    args = ["AS.TRUNCATE", opts.namespace] + ([opts.set] if opts.set else [])
    try:
        conn.call(*args)
    except Refused as exc:
        raise AdminError(str(exc)) from None
    admin.emit(
        {"truncated": opts.namespace, "set": opts.set, "result": "ok"},
        lambda: f"truncated {what} (records last updated before now, on every node)",
    )
    return EXIT_OK


# --- quiesce -----------------------------------------------------------------------------


def cmd_quiesce(admin: Admin, undo: bool) -> int:
    opts = admin.opts
    target = admin.find(opts.node)
    args = ["AS.QUIESCE"] + (["UNDO"] if undo else [])
    try:
        target.conn.call(*args)  # type: ignore[union-attr]
    except Refused as exc:
        if "unknown command" in str(exc):
            raise AdminError(
                f"{target.address}: this node does not support quiesce (AS.QUIESCE)"
            ) from None
        raise AdminError(str(exc)) from None
    verb = "quiesce-undo" if undo else "quiesce"
    if opts.no_wait:
        admin.emit(
            {"node": target.node_id, "action": verb, "result": "ok"},
            lambda: f"{verb} {target.node_id}: ok (not waiting for the hand-over)",
        )
        return EXIT_OK
    deadline = time.monotonic() + opts.wait_timeout
    while True:
        nodes = admin.gather("server clients cluster migrations")
        node = next((n for n in nodes if n.node_id == target.node_id), None)
        settled = (
            _settled(nodes)
            and node is not None
            and node.ok
            and node.quiesced() == (not undo)
            and node.effectively_quiesced() == (not undo)
        )
        masters = master_counts(nodes) if settled else {}
        if settled:  # quiesced: masters nothing; undone: masters its share again
            count = masters.get(target.node_id)
            settled = count is None or (count > 0 if undo else count == 0)
        if settled:
            break
        if time.monotonic() > deadline:
            raise AdminError(
                f"{verb} {target.node_id}: the cluster did not settle within {opts.wait_timeout:g}s "
                f"(see `{PROG} migrations`)"
            )
        time.sleep(0.25)
    rows = [node_row(n, masters) for n in nodes]
    admin.emit(
        {"node": target.node_id, "action": verb, "result": "ok", "nodes": rows},
        lambda: f"{verb} {target.node_id}: done\n\n" + _nodes_table(admin, rows),
    )
    return admin.unreachable_warning()


def _settled(nodes: list[NodeView]) -> bool:
    """Every node reachable, one cluster key, integrity, no migration pending and every
    partition served by its natural master again (no acting masters)."""
    if not nodes or not all(n.ok for n in nodes):
        return False
    keys = {n.cluster()["cluster_key"] for n in nodes}
    return (
        len(keys) == 1
        and all(_yes(n.cluster().get("cluster_integrity")) for n in nodes)
        and all(_int(n.migrations().get("migrate_partitions_remaining")) == 0 for n in nodes)
        and all(_int(n.cluster().get("acting_master_partitions")) == 0 for n in nodes)
    )


# --- migrations --------------------------------------------------------------------------


def migration_rows(nodes: list[NodeView], peak: dict[str, int]) -> list[dict[str, Any]]:
    rows = []
    for n in nodes:
        if not n.ok:
            rows.append({"node": n.node_id, "address": n.address, "status": "unreachable"})
            continue
        m = n.migrations()
        remaining = _int(m.get("migrate_partitions_remaining"))
        peak[n.node_id] = max(peak.get(n.node_id, 0), remaining)
        top = peak[n.node_id]
        rows.append(
            {
                "node": n.node_id,
                "address": n.address,
                "status": "ok",
                "cluster_key": n.cluster()["cluster_key"],
                "tx_remaining": _int(m.get("migrate_tx_partitions_remaining")),
                "rx_remaining": _int(m.get("migrate_rx_partitions_remaining")),
                "remaining": remaining,
                "records_sent": _int(m.get("migrate_records_transmitted")),
                "records_received": _int(m.get("migrate_records_received")),
                "progress_pct": round(100 * (top - remaining) / top, 1) if top else 100.0,
            }
        )
    return rows


def cmd_migrations(admin: Admin) -> int:
    opts = admin.opts
    watch = opts.watch or opts.until_done
    peak: dict[str, int] = {}
    deadline = time.monotonic() + opts.wait_timeout if opts.until_done else None
    while True:
        nodes = admin.gather("server cluster migrations")
        rows = migration_rows(nodes, peak)
        done = _settled(nodes)
        data = {"time": time.strftime("%Y-%m-%dT%H:%M:%S"), "done": done, "nodes": rows}
        if opts.json:
            print(
                json.dumps(
                    data,
                    separators=(",", ":") if watch else (", ", ": "),
                    indent=None if watch else 2,
                )
            )
        else:
            if watch and sys.stdout.isatty():
                print("\x1b[H\x1b[2J", end="")
            print(_migrations_table(admin, rows, done, data["time"] if watch else ""))
            if watch and not sys.stdout.isatty():
                print()
        sys.stdout.flush()
        if not watch or (opts.until_done and done):
            return admin.unreachable_warning() if not watch else EXIT_OK
        if deadline is not None and time.monotonic() > deadline:
            raise AdminError(f"migrations did not finish within {opts.wait_timeout:g}s")
        try:
            time.sleep(opts.interval)
        except KeyboardInterrupt:
            return EXIT_OK


def _migrations_table(admin: Admin, rows: list[dict[str, Any]], done: bool, stamp: str) -> str:
    headers = [
        "node",
        "address",
        "cluster key",
        "out",
        "in",
        "remaining",
        "progress %",
        "records sent",
        "records received",
    ]
    table, styles = [], []
    for r in rows:
        if r["status"] != "ok":
            table.append([r["node"], r["address"], "unreachable"] + ["-"] * 6)
            styles.append(["", "", "bad"] + [""] * 6)
            continue
        table.append(
            [
                r["node"],
                r["address"],
                r["cluster_key"],
                r["tx_remaining"],
                r["rx_remaining"],
                r["remaining"],
                r["progress_pct"],
                r["records_sent"],
                r["records_received"],
            ]
        )
        styles.append([""] * 5 + ["warn" if r["remaining"] else "good"] + [""] * 3)
    state = (
        admin.paint("done: no migrations pending", "good")
        if done
        else admin.paint("in progress", "warn")
    )
    title = f"Migrations ({state}){'  ' + stamp if stamp else ''}"
    return admin.table(title, headers, table, styles)


# --- raw info ----------------------------------------------------------------------------


def cmd_cluster_stable(admin: Admin) -> int:
    """`info cluster-stable[:size=N;ignore-migrations=BOOL]` asked of every node.

    AS.INFO cluster-stable is one node's view: it said yes while other nodes still had
    partitions to send or receive. A script wants the cluster's answer: the cluster key
    when every member is reachable, stable by its own account and on the same key.
    """
    command = admin.opts.info_command
    nodes = admin.gather("server cluster")
    answers: dict[str, str] = {}
    problems = []
    for n in nodes:
        if not n.ok:
            problems.append(f"{n.label} unreachable")
            continue
        try:
            answers[n.node_id] = str(n.conn.call("AS.INFO", command))  # type: ignore[union-attr]
        except Refused as exc:
            problems.append(f"{n.label} ({n.address}): {str(exc).split(': ', 1)[-1]}")
    if not problems and len(set(answers.values())) > 1:
        keys = ", ".join(f"{node}={key}" for node, key in answers.items())
        problems.append(f"nodes disagree on the cluster key ({keys})")
    if problems:
        raise AdminError(f"cluster not stable: {'; '.join(problems)}")
    key = next(iter(answers.values()))
    admin.emit(
        {"cluster_key": key, "nodes": sorted(answers)} if admin.opts.json else key, lambda: key
    )
    return EXIT_OK


def cmd_raw_info(admin: Admin) -> int:
    opts = admin.opts
    if opts.info_command.split(":", 1)[0] == "cluster-stable" and not (opts.all or opts.this_node):
        return cmd_cluster_stable(admin)
    if opts.all:
        nodes = admin.gather("server cluster")
        targets = [n for n in nodes if n.ok]
    else:
        seed = NodeView("", admin.seed)
        seed.conn = admin.connect(admin.seed)
        admin._load(seed, "server", fatal=True)
        targets = [seed]
    results: dict[str, str] = {}
    failed = False
    for n in targets:
        try:
            results[n.node_id] = n.conn.call("AS.INFO", opts.info_command)  # type: ignore[union-attr]
        except Refused as exc:
            if not opts.all:
                raise AdminError(str(exc)) from None
            results[n.node_id] = f"error: {str(exc).split(': ', 1)[-1]}"
            failed = True

    def show(value: str) -> str:
        return value.replace(";", "\n") if opts.lines else value

    def human() -> str:
        if not opts.all:
            return show(next(iter(results.values())))
        return "\n".join(
            f"{admin.paint(node, 'title')} ({n.address}):\n{show(v)}"
            for (node, v), n in zip(results.items(), targets, strict=True)
        )

    admin.emit(results if opts.all else next(iter(results.values())), human)
    return EXIT_FAIL if failed else (admin.unreachable_warning() if opts.all else EXIT_OK)


# --- arguments ---------------------------------------------------------------------------


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # one line, no usage dump
        raise AdminError(f"{message} (see {PROG} --help)", EXIT_USAGE)


def _common(parser: argparse.ArgumentParser, suppress: bool) -> None:
    """Connection and output options, accepted before or after the command."""
    d = (lambda v: argparse.SUPPRESS) if suppress else (lambda v: v)
    parser.add_argument(
        "-h", "--host", default=d("127.0.0.1"), help="a node to start from (HOST or HOST:PORT)"
    )
    parser.add_argument(
        "-p", "--port", type=int, default=d(DEFAULT_PORT), help="its RESP port (default 6379)"
    )
    parser.add_argument("-U", "--user", default=d(None), help="user name (AUTH user password)")
    parser.add_argument(
        "-P",
        "-a",
        "--password",
        default=d(os.environ.get("RESPIKE_PASSWORD")),
        help="password (default: $RESPIKE_PASSWORD)",
    )
    parser.add_argument(
        "--timeout", type=float, default=d(5.0), help="seconds to wait for a node (default 5)"
    )
    parser.add_argument(
        "--json", action="store_true", default=d(False), help="print JSON for scripts"
    )
    parser.add_argument(
        "--no-color", action="store_true", default=d(False), help="never colour the output"
    )


EXAMPLES = """examples:
  respike-admin -h 10.0.0.1 info                      cluster summary
  respike-admin show stats --like client_write        one column per node
  respike-admin config set -n test default-ttl 1h     on every node, no restart
  respike-admin quiesce 9f2c1d0e                      before taking that node down
  respike-admin migrations --until-done               wait until partitions stop moving
  respike-admin info cluster-stable:size=3            exit 0 once all 3 nodes agree, none migrating
  respike-admin info namespace/test -l                one asinfo command, a line per value
  respike-admin --json show namespaces | jq .         the same figures for scripts

exit status: 0 ok, 1 a node refused, failed or was unreachable, 2 bad arguments"""


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(
        prog=PROG,
        add_help=False,
        description="Operate a respike cluster (Aerospike's asadm/asinfo over RESP).",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=EXAMPLES,
    )
    p.add_argument("--help", action="help", help="show this help and exit")
    _common(p, suppress=False)
    sub = p.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)

    def command(name: str, help_: str) -> argparse.ArgumentParser:
        sp = sub.add_parser(name, help=help_, add_help=False, description=help_)
        sp.add_argument("--help", action="help", help="show this help and exit")
        _common(sp, suppress=True)
        return sp

    sp = command("info", "cluster summary, or an asinfo-style info command (`info statistics`)")
    sp.add_argument(
        "info_command",
        nargs="?",
        metavar="COMMAND",
        help="e.g. namespaces, statistics, namespace/test",
    )
    sp.add_argument("--all", action="store_true", help="ask every node, not only the one given")
    sp.add_argument(
        "--this-node",
        action="store_true",
        help="cluster-stable: only the node given says (default: every node must agree)",
    )
    sp.add_argument("-l", "--lines", action="store_true", help="one name=value per line")

    sp = command("show", "cluster, namespaces, sets, stats, config or latencies as tables")
    sp.add_argument(
        "what",
        choices=["cluster", "namespaces", "sets", "stats", "config", "latencies"],
        metavar="WHAT",
        help="cluster | namespaces | sets | stats | config | latencies",
    )
    sp.add_argument(
        "--like", metavar="PATTERN", help="only names containing PATTERN (or matching a glob)"
    )
    sp.add_argument("--namespace", "-n", metavar="NS", help="show config: only this namespace")

    sp = command("config", "change a dynamic setting on every node")
    sp.add_argument("action", choices=["set"], metavar="set")
    sp.add_argument(
        "--namespace", "-n", metavar="NS", help="a namespace setting (default: a node setting)"
    )
    sp.add_argument("key", metavar="KEY")
    sp.add_argument("value", metavar="VALUE")

    sp = command(
        "truncate", "delete every record of a namespace or one of its sets (on every node)"
    )
    sp.add_argument("namespace", metavar="NS")
    sp.add_argument("set", nargs="?", metavar="SET")
    sp.add_argument("--yes", "-y", action="store_true", help="do not ask for confirmation")

    for name, help_ in (
        ("quiesce", "make a node hand over mastership of its partitions (before maintenance)"),
        ("quiesce-undo", "let a quiesced node take its partitions back"),
    ):
        sp = command(name, help_)
        sp.add_argument(
            "node", metavar="NODE", help="node id (or a unique prefix of it) or HOST:PORT"
        )
        sp.add_argument(
            "--no-wait", action="store_true", help="do not wait for the hand-over to finish"
        )
        sp.add_argument(
            "--wait-timeout",
            type=float,
            default=120.0,
            metavar="S",
            help="give up waiting after S seconds (default 120)",
        )

    sp = command("migrations", "migration progress per node")
    sp.add_argument("--watch", "-w", action="store_true", help="refresh until interrupted")
    sp.add_argument(
        "--until-done",
        action="store_true",
        help="refresh until no migration is pending, then exit 0",
    )
    sp.add_argument(
        "--interval",
        type=float,
        default=1.0,
        metavar="S",
        help="seconds between refreshes (default 1)",
    )
    sp.add_argument(
        "--wait-timeout",
        type=float,
        default=3600.0,
        metavar="S",
        help="--until-done: give up after S seconds (default 3600)",
    )
    return p


def run(argv: list[str]) -> int:
    opts = build_parser().parse_args(argv)
    if not opts.command:
        raise AdminError(f"no command given (see {PROG} --help)", EXIT_USAGE)
    if ":" in opts.host and not opts.host.startswith("["):
        host, port = split_address(opts.host)
        opts.host, opts.port = host, port
    if opts.port <= 0 or opts.port > 65535:
        raise AdminError(f"bad port {opts.port}", EXIT_USAGE)
    admin = Admin(opts)
    if opts.command == "info":
        return cmd_raw_info(admin) if opts.info_command else cmd_info(admin)
    if opts.command == "show":
        handlers = {
            "cluster": cmd_show_cluster,
            "namespaces": cmd_show_namespaces,
            "sets": cmd_show_sets,
            "stats": cmd_show_stats,
            "config": cmd_show_config,
            "latencies": cmd_show_latencies,
        }
        return handlers[opts.what](admin)
    if opts.command == "config":
        return cmd_config_set(admin)
    if opts.command == "truncate":
        return cmd_truncate(admin)
    if opts.command in ("quiesce", "quiesce-undo"):
        return cmd_quiesce(admin, opts.command == "quiesce-undo")
    if opts.command == "migrations":
        return cmd_migrations(admin)
    raise AdminError(f"unknown command '{opts.command}'", EXIT_USAGE)


def main(argv: Iterable[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    try:
        return run(args)
    except AdminError as exc:
        print(f"{PROG}: {exc}", file=sys.stderr)
        return exc.code
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:  # `respike-admin ... | head`
        try:
            sys.stdout = open(os.devnull, "w")  # noqa: SIM115
        except OSError:
            pass
        return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
