"""Observability: SLOWLOG, LATENCY, AS.INFO (asinfo-style info commands), and the INFO
sections `latencystats` (alias `latency`) and `commandstats`.

Latency figures come from the per-command statistics the RESP layer keeps (resp/stats.py):
`calls`, `failed_calls` and `rejected_calls` are exact; latency histograms are *sampled*
(O(1) commands are timed once in SAMPLE_EVERY calls on a connection, every other command on
every call), so each histogram is scaled to the command's calls and `usec` totals are
estimates. `timed_calls` in INFO commandstats says how many calls were actually timed.

The functions at the bottom (`section`, `statistics`, `namespace_info`, ...) are the one
source of the figures that AS.INFO, respike-admin and the Prometheus endpoint
(respike/metrics.py) show, so all three agree.
"""

from __future__ import annotations

import asyncio
import os
import time
from typing import Any

from ... import __version__
from ...config import NAMESPACE_SETTINGS, NODE_SETTINGS, ConfigError
from ...errors import RecordError, RedisError, ResultCode
from ..encode import EMPTY_ARRAY, OK, ZERO, encode, integer
from ..stats import bucket_upper
from ..table import Command, command, container, help_reply
from .args import to_int
from .info import SECTIONS, namespace_stats

G = "server"

# --- SLOWLOG ----------------------------------------------------------------------------

SLOWLOG = container("slowlog", G, "A container for slow log commands.", since="2.2.12")


@command(
    "slowlog|get",
    -2,
    "admin loading stale",
    (0, 0, 0),
    G,
    "Returns the slow log's entries.",
    "[count:integer]",
    since="2.2.12",
    complexity="O(N) where N is the number of entries returned",
    example="SLOWLOG GET 10",
)
def slowlog_get(c, a):
    if len(a) > 3:
        raise RedisError("ERR wrong number of arguments for 'slowlog|get' command")
    count = 10
    if len(a) == 3:
        count = to_int(a[2], "ERR count should be greater than or equal to -1")
        if count < -1:
            raise RedisError("ERR count should be greater than or equal to -1")
    entries = list(c.server.slowlog.entries)
    if count >= 0:
        entries = entries[:count]
    return encode(
        [[e.id, e.timestamp, e.usec, list(e.args), e.addr, e.name] for e in entries], c.proto
    )


@command(
    "slowlog|len",
    2,
    "admin loading stale",
    (0, 0, 0),
    G,
    "Returns the number of entries in the slow log.",
    "",
    since="2.2.12",
    example="SLOWLOG LEN",
)
def slowlog_len(c, a):
    return integer(len(c.server.slowlog.entries))


@command(
    "slowlog|reset",
    2,
    "admin loading stale",
    (0, 0, 0),
    G,
    "Clears all entries from the slow log.",
    "",
    since="2.2.12",
    complexity="O(N) where N is the number of entries in the slowlog",
    example="SLOWLOG RESET",
)
def slowlog_reset(c, a):
    c.server.slowlog.reset()
    return OK


@command(
    "slowlog|help",
    2,
    "loading stale",
    (0, 0, 0),
    G,
    "Returns helpful text about the different subcommands.",
    "",
    since="6.2.0",
    example="SLOWLOG HELP",
)
def slowlog_help(c, a):
    return help_reply(c, SLOWLOG)


# --- LATENCY ----------------------------------------------------------------------------

LATENCY = container("latency", G, "A container for latency diagnostics commands.", since="2.8.13")


def timed_commands(server) -> list[Command]:
    """Every command (and subcommand) with at least one timed call."""
    return [cmd for cmd in server.table.every() if cmd.latency.samples]


def est_calls(cmd: Command) -> int:
    return max(cmd.calls, cmd.latency.samples)


def est_usec(cmd: Command) -> int:
    """Total microseconds spent in `cmd`, scaled from its timed calls to all its calls."""
    lat = cmd.latency
    if not lat.samples:
        return 0
    return round(lat.total * est_calls(cmd) / lat.samples)


def scaled_cumulative(cmd: Command) -> dict[int, int]:
    """LATENCY HISTOGRAM's buckets (power of two µs -> cumulative calls), scaled to calls."""
    lat = cmd.latency
    scale = est_calls(cmd) / lat.samples
    return {bound: round(n * scale) for bound, n in lat.cumulative_power_of_two().items()}


def share_above(cmd: Command, usec: int) -> float:
    """Fraction of timed calls slower than `usec` (by bucket upper bounds)."""
    lat = cmd.latency
    if not lat.samples:
        return 0.0
    slow = sum(n for i, n in lat.counts.items() if bucket_upper(i) > usec)
    return slow / lat.samples


@command(
    "latency|histogram",
    -2,
    "admin noscript loading stale",
    (0, 0, 0),
    G,
    "Returns the cumulative distribution of latencies of a subset or all commands.",
    "[command...]",
    since="7.0.0",
    complexity="O(N) where N is the number of commands with latency information",
    example="LATENCY HISTOGRAM set get",
)
def latency_histogram(c, a):
    table = c.server.table
    if len(a) == 2:
        cmds = timed_commands(c.server)
    else:
        cmds = []
        for name in a[2:]:
            cmd = table.lookup(name)
            if cmd is None:
                continue
            cmds.append(cmd)
            cmds.extend(sub for _, sub in sorted(cmd.subcommands.items()))
        cmds = [cmd for cmd in dict.fromkeys(cmds) if cmd.latency.samples]
    return encode(
        {
            cmd.name: {"calls": est_calls(cmd), "histogram_usec": scaled_cumulative(cmd)}
            for cmd in cmds
        },
        c.proto,
    )


@command(
    "latency|latest",
    2,
    "admin noscript loading stale",
    (0, 0, 0),
    G,
    "Returns the latest latency samples for all events (respike keeps no latency events).",
    "",
    since="2.8.13",
    example="LATENCY LATEST",
)
def latency_latest(c, a):
    return EMPTY_ARRAY


@command(
    "latency|reset",
    -2,
    "admin noscript loading stale",
    (0, 0, 0),
    G,
    "Resets the latency data for one or more events (there are none; CONFIG RESETSTAT resets command histograms).",
    "[event...]",
    since="2.8.13",
    example="LATENCY RESET",
)
def latency_reset(c, a):
    return ZERO


@command(
    "latency|help",
    2,
    "loading stale",
    (0, 0, 0),
    G,
    "Returns helpful text about the different subcommands.",
    "",
    since="2.8.13",
    example="LATENCY HELP",
)
def latency_help(c, a):
    return help_reply(c, LATENCY)


# --- INFO sections ----------------------------------------------------------------------


def _usec(value: float) -> str:
    return f"{value:.3f}"


def latencystats_section(server) -> dict[str, Any]:
    """Redis's `# Latencystats`: p50/p99/p99.9 in µs per command (from timed calls)."""
    out = {}
    for cmd in timed_commands(server):
        lat = cmd.latency
        out[f"latency_percentiles_usec_{cmd.name}"] = (
            f"p50={_usec(lat.percentile(50))},p99={_usec(lat.percentile(99))},"
            f"p99.9={_usec(lat.percentile(99.9))}"
        )
    return out


def commandstats_section(server) -> dict[str, Any]:
    """Redis's `# Commandstats`, plus `timed_calls` (usec is scaled from those)."""
    out = {}
    for cmd in server.table.every():
        if not (cmd.calls or cmd.failed_calls or cmd.rejected_calls):
            continue
        usec = est_usec(cmd)
        per_call = usec / cmd.calls if cmd.calls else 0.0
        out[f"cmdstat_{cmd.name}"] = (
            f"calls={cmd.calls},usec={usec},usec_per_call={per_call:.2f},"
            f"rejected_calls={cmd.rejected_calls},failed_calls={cmd.failed_calls},"
            f"timed_calls={cmd.latency.samples}"
        )
    return out


SECTIONS["latencystats"] = latencystats_section
SECTIONS["commandstats"] = commandstats_section


# --- figures shared by AS.INFO, respike-admin and /metrics ---------------------------------


def section(server, name: str) -> dict[str, Any]:
    """One INFO section as a dict (sections other parts registered included)."""
    provider = server.info_sections.get(name) or SECTIONS.get(name)
    return dict(provider(server)) if provider is not None else {}


def text(value: Any) -> str:
    """A statistic as Aerospike writes it (booleans as true/false)."""
    if value is True or value is False:
        return "true" if value else "false"
    return str(value)


def namespace_info(ns) -> dict[str, Any]:
    return namespace_stats(ns)


def statistics(server) -> dict[str, Any]:
    """Node-wide statistics (Aerospike's `statistics` info command)."""
    node = server.node
    spaces = list(server.engine.namespaces.values())
    cluster = section(server, "cluster")
    if not cluster.get("cluster_principal"):  # no view yet, or never seeded: a cluster of one
        cluster.update(cluster_size=1, cluster_principal=node.node_id_hex, cluster_integrity="true")
    out: dict[str, Any] = {
        "node_id": node.node_id_hex,
        "cluster_size": cluster.get("cluster_size", 1),
        "cluster_key": cluster.get("cluster_key", 0),
        "cluster_principal": cluster.get("cluster_principal", "") or node.node_id_hex,
        "cluster_integrity": cluster.get("cluster_integrity", "true"),
        "cluster_quiesced": cluster.get("quiesced", 0),
    }
    for key, value in cluster.items():
        if key not in ("cluster_nodes", "node_id", "quiesced"):
            out.setdefault(key, value)
    out.update(section(server, "migrations"))
    out.setdefault("migrate_partitions_remaining", 0)
    stats = [namespace_stats(ns) for ns in spaces]
    out.update(
        {
            "uptime": int(time.time() - server.started),
            "objects": sum(s["objects"] for s in stats),
            "tombstones": sum(int(s.get("tombstones", 0)) for s in stats),
            "stop_writes": int(any(int(s.get("stop_writes", 0)) for s in stats)),
            "client_connections": len(server.clients),
            "client_connections_opened": server.connections_received,
            "client_connections_rejected": server.rejected_connections,
            "total_commands_processed": node.total_commands(),
            "slowlog_length": len(server.slowlog.entries),
            "process_id": os.getpid(),
        }
    )
    return out


def cluster_nodes(server) -> list[tuple[str, str]]:
    """(node id, service address) of every node in this node's view, itself included."""
    value = str(section(server, "cluster").get("cluster_nodes", ""))
    nodes = []
    for item in filter(None, value.split(",")):
        node_id, _, address = item.partition("@")
        nodes.append((node_id, address))
    if not nodes:
        cfg = server.node_config
        nodes.append((server.node.node_id_hex, f"{cfg['bind']}:{cfg['port']}"))
    return nodes


def config_values(server, context: str, ns_name: str | None = None) -> dict[str, str]:
    """Settings of one context: `service` (the node's) or `namespace` (one namespace's)."""
    if context == "service":
        values = server.node_config
        out = {name: s.show(values[name]) for name, s in NODE_SETTINGS.items()}
        if out.get("requirepass"):
            out["requirepass"] = "********"
        return out
    if context == "namespace":
        ns = server.engine.by_name((ns_name or "").encode())
        if ns is None:
            raise RecordError(ResultCode.NAMESPACE, f"namespace '{ns_name}' is not configured")
        return {name: s.show(ns.config.values[name]) for name, s in NAMESPACE_SETTINGS.items()}
    raise RecordError(ResultCode.PARAMETER, f"invalid context '{context}' (service or namespace)")


def dynamic_settings() -> dict[str, list[str]]:
    return {
        "service": [n for n, s in NODE_SETTINGS.items() if s.dynamic],
        "namespace": [n for n, s in NAMESPACE_SETTINGS.items() if s.dynamic],
    }


# --- AS.INFO ----------------------------------------------------------------------------


def _params(raw: str) -> dict[str, str]:
    """`a=1;b=2` -> {a: 1, b: 2} (Aerospike info parameters)."""
    out = {}
    for part in filter(None, raw.split(";")):
        key, sep, value = part.partition("=")
        if not sep:
            raise RecordError(ResultCode.PARAMETER, f"bad parameter '{part}' (expected name=value)")
        out[key.strip()] = value.strip()
    return out


def _kv(values: dict[str, Any]) -> str:
    return ";".join(f"{k}={text(v)}" for k, v in values.items())


def _sets(server, ns_name: str | None, set_name: str | None) -> str:
    out = []
    for ns in server.engine.namespaces.values():
        if ns_name and ns.name != ns_name:
            continue
        for raw, objects in sorted(ns.set_objects.items()):
            name = raw.decode("utf-8", "replace")
            if set_name and name != set_name:
                continue
            cutoff = ns.cutoffs.get(raw, 0) if ns.cutoffs else 0
            out.append(f"ns={ns.name}:set={name}:objects={objects}:truncate_lut={cutoff}")
    return ";".join(out) + (";" if out else "")


def latencies(server, wanted: str | None = None) -> str:
    """Aerospike's `latencies:` shape: `name:msec,ops/sec,>1ms,>8ms,>64ms` per command
    (and `read`/`write` summed over read-only and write commands)."""
    rates = getattr(getattr(server.node, "monitor", None), "rates", dict)()
    rows: dict[str, tuple[float, float, float, float]] = {}
    groups: dict[str, list[float]] = {"read": [0.0, 0.0, 0.0, 0.0, 0.0], "write": [0.0] * 5}
    for cmd in timed_commands(server):
        calls = est_calls(cmd)
        shares = [share_above(cmd, us) for us in (1000, 8000, 64000)]
        rate = rates.get(cmd.name, 0.0)
        rows[cmd.name] = (rate, *(100 * s for s in shares))
        kind = "write" if cmd.write else "read" if cmd.readonly else None
        if kind:
            g = groups[kind]
            g[0] += rate
            g[1] += calls
            for i, s in enumerate(shares):
                g[2 + i] += s * calls
    for kind, g in groups.items():
        if g[1]:
            rows = {kind: (g[0], 100 * g[2] / g[1], 100 * g[3] / g[1], 100 * g[4] / g[1]), **rows}
    if wanted:
        rows = {k: v for k, v in rows.items() if k == wanted}
    return ";".join(
        f"{name}:msec,{rate:.1f},{a:.2f},{b:.2f},{c:.2f}" for name, (rate, a, b, c) in rows.items()
    )


def cluster_stable(server, params: dict[str, str]) -> str:
    """The cluster key if the cluster has the expected size and (unless ignored) no
    migrations are pending on this node; an UNAVAILABLE error otherwise."""
    stats = statistics(server)
    size = params.get("size")
    if size is not None and str(stats["cluster_size"]) != size:
        raise RecordError(
            ResultCode.UNAVAILABLE,
            f"unstable-cluster: size {stats['cluster_size']}, expected {size}",
        )
    if str(stats["cluster_integrity"]).lower() not in ("true", "1"):
        raise RecordError(ResultCode.UNAVAILABLE, "unstable-cluster: no cluster integrity")
    ignore = params.get("ignore-migrations", "false").lower() in ("true", "yes", "1")
    if not ignore and int(stats.get("migrate_partitions_remaining", 0)):
        raise RecordError(ResultCode.UNAVAILABLE, "unstable-cluster: migrations pending")
    return text(stats["cluster_key"])


def set_config(c, params: dict[str, str]) -> str:
    context = params.pop("context", "")
    if context == "namespace":
        ns_name = params.pop("id", None) or params.pop("namespace", None)
        if ns_name is None or c.server.engine.by_name(ns_name.encode()) is None:
            raise RecordError(ResultCode.NAMESPACE, f"namespace '{ns_name}' is not configured")
        changes = [(f"{ns_name}.{k}", v) for k, v in params.items()]
    elif context == "service":
        changes = list(params.items())
    else:
        raise RecordError(
            ResultCode.PARAMETER, f"invalid context '{context}' (service or namespace)"
        )
    if not changes:
        raise RecordError(ResultCode.PARAMETER, "no setting given")
    try:
        c.server.node.configure(changes)
    except ConfigError as exc:
        raise RecordError(ResultCode.PARAMETER, str(exc)) from None
    return "ok"


def _truncate(c, params: dict[str, str], whole: bool):
    name = params.get("namespace") or params.get("id")
    ns = c.engine.by_name((name or "").encode())
    if ns is None:
        raise RecordError(ResultCode.NAMESPACE, f"namespace '{name}' is not configured")
    setname = None if whole else (params.get("set") or "").encode() or None
    before = params.get("lut")
    wait = c.server.node.truncate(ns, setname, int(before) if before else None)
    return "ok", wait


def info_command(c, line: str) -> Any:
    """One info command; returns its text, or (text, awaitable) when it completes later."""
    server = c.server
    name, _, raw = line.partition(":")
    name = name.strip()
    if name == "namespaces":
        return ";".join(ns.name for ns in server.engine.namespaces.values())
    if name.startswith("namespace/"):
        ns = server.engine.by_name(name[len("namespace/") :].encode())
        if ns is None:
            raise RecordError(ResultCode.NAMESPACE, f"namespace '{name[10:]}' is not configured")
        return _kv(namespace_info(ns))
    if name == "sets" or name.startswith("sets/"):
        parts = name.split("/")[1:] + [None, None]
        return _sets(server, parts[0], parts[1])
    if name == "statistics":
        return _kv(statistics(server))
    if name == "get-config":
        params = _params(raw)
        context = params.get("context", "service")
        return _kv(config_values(server, context, params.get("id") or params.get("namespace")))
    if name == "set-config":
        return set_config(c, _params(raw))
    if name == "latencies":
        return latencies(server, _params(raw).get("hist"))
    if name == "node":
        return server.node.node_id_hex
    if name == "build":
        return __version__
    if name == "version":
        return f"respike build {__version__}"
    if name == "edition":
        return "respike"
    if name == "status":
        return "ok"
    if name == "service":
        cfg = server.node_config
        return f"{cfg['bind']}:{cfg['port']}"
    if name == "services":
        me = server.node.node_id_hex
        return ";".join(a for n, a in cluster_nodes(server) if n != me)
    if name == "cluster-name":
        return "null"
    if name == "cluster-stable":
        return cluster_stable(server, _params(raw))
    if name == "truncate":
        return _truncate(c, _params(raw), False)
    if name == "truncate-namespace":
        return _truncate(c, _params(raw), True)
    if name == "dynamic-config":
        return ";".join(f"{k}={','.join(v)}" for k, v in dynamic_settings().items())
    if name in ("help", ""):
        return ";".join(INFO_COMMANDS)
    raise RecordError(
        ResultCode.PARAMETER, f"unrecognized info command '{name}' (AS.INFO help lists them)"
    )


INFO_COMMANDS = [
    "namespaces",
    "namespace/<ns>",
    "sets",
    "sets/<ns>",
    "sets/<ns>/<set>",
    "statistics",
    "get-config:context=service",
    "get-config:context=namespace;id=<ns>",
    "set-config:context=service;<name>=<value>",
    "set-config:context=namespace;id=<ns>;<name>=<value>",
    "latencies:",
    "latencies:hist=<command|read|write>",
    "node",
    "build",
    "version",
    "edition",
    "status",
    "service",
    "services",
    "cluster-name",
    "cluster-stable:size=<n>;ignore-migrations=<bool>",
    "truncate:namespace=<ns>;set=<set>",
    "truncate-namespace:namespace=<ns>",
    "dynamic-config",
    "help",
]


@command(
    "as.info",
    -2,
    "admin loading stale",
    (0, 0, 0),
    "native",
    "Runs Aerospike info commands (asinfo): statistics, namespace/<ns>, get-config, set-config, latencies...",
    "command...",
    since="0.1.0",
    complexity="O(N)",
    example="AS.INFO namespaces",
)
def as_info(c, a):
    lines = [arg.decode("utf-8", "replace") for arg in a[1:]]
    results: dict[str, str] = {}
    waits = []
    for line in lines:
        result = info_command(c, line)
        if isinstance(result, tuple):
            result, wait = result
            if wait is not None:
                waits.append(wait)
        results[line] = result
    reply = encode(results[lines[0]] if len(lines) == 1 else results, c.proto)
    if not waits:
        return reply

    async def later() -> bytes:
        await asyncio.gather(*waits)
        return reply

    return later()
