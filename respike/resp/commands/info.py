"""INFO: Redis's sections plus Aerospike's per-namespace and per-set statistics.

Namespaces and sets are one line each, keyspace-style (`test:objects=3,...`), so that
clients which fold INFO into one dictionary (redis-py does) keep every namespace apart.
"""

from __future__ import annotations

import os
import platform
import resource
import sys
import time
from collections.abc import Callable
from dataclasses import asdict
from typing import Any

from ... import __version__
from ...build_native import running
from .connection import VERSION

DEFAULT_SECTIONS = [
    "server",
    "clients",
    "memory",
    "persistence",
    "stats",
    "replication",
    "cpu",
    "cluster",
    "keyspace",
    "namespace",
    "sets",
]


def _human(n: float) -> str:
    for unit in ("B", "K", "M", "G", "T"):
        if n < 1024 or unit == "T":
            return f"{n:.2f}{unit}" if unit != "B" else f"{int(n)}B"
        n /= 1024
    return str(n)


def rss_bytes() -> int:
    try:
        with open("/proc/self/statm") as fh:
            return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except OSError:
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def server_section(server) -> dict[str, Any]:
    uptime = int(time.time() - server.started)
    node = server.node
    return {
        "redis_version": VERSION,
        "respike_version": __version__,
        "redis_mode": "cluster" if node.clustered else "standalone",
        "os": f"{platform.system()} {platform.release()} {platform.machine()}",
        "arch_bits": 64,
        "multiplexing_api": "epoll",
        "python_version": platform.python_version(),
        "compiled_modules": ",".join(running()) or "none",
        "process_id": os.getpid(),
        "run_id": node.run_id,
        "node_id": node.node_id_hex,
        "tcp_port": server.node_config["port"],
        "server_time_usec": time.time_ns() // 1000,
        "uptime_in_seconds": uptime,
        "uptime_in_days": uptime // 86400,
        "executable": sys.argv[0],
        "config_file": node.config_path or "",
    }


def clients_section(server) -> dict[str, Any]:
    clients = server.clients.values()
    return {
        "connected_clients": len(server.clients),
        "blocked_clients": sum(1 for c in clients if c.blocked),
        "maxclients": server.node_config["maxclients"],
    }


def memory_section(server) -> dict[str, Any]:
    rss = rss_bytes()
    data = sum(ns.used_bytes for ns in server.engine.namespaces.values())
    return {
        "used_memory": rss,
        "used_memory_human": _human(rss),
        "used_memory_rss": rss,
        "used_memory_rss_human": _human(rss),
        "used_memory_dataset": data,
        "maxmemory": 0,
        "maxmemory_human": "0B",
        "maxmemory_policy": "noeviction",
    }


def persistence_section(server) -> dict[str, Any]:
    persistent = any(ns.persistent for ns in server.engine.namespaces.values())
    return {
        "loading": 0,
        "rdb_changes_since_last_save": 0,
        "aof_enabled": 0,
        "device_storage": int(persistent),
    }


def stats_section(server) -> dict[str, Any]:
    spaces = server.engine.namespaces.values()
    node = server.node
    return {
        "total_connections_received": server.connections_received,
        "total_commands_processed": node.total_commands(),
        "rejected_connections": server.rejected_connections,
        "client_output_buffer_limit_disconnections": server.output_limit_disconnections,
        "expired_keys": sum(ns.stats.expired_objects for ns in spaces),
        "evicted_keys": sum(ns.stats.evicted_objects for ns in spaces),
        "keyspace_hits": sum(ns.stats.client_read_success for ns in spaces),
        "keyspace_misses": sum(ns.stats.client_read_not_found for ns in spaces),
        "pubsub_channels": len(server.pubsub.channels),
        "pubsub_patterns": len(server.pubsub.patterns),
        "pubsubshard_channels": len(server.pubsub.shard),
    }


def replication_section(server) -> dict[str, Any]:
    return {"role": "master", "connected_slaves": 0}


def cpu_section(server) -> dict[str, Any]:
    times = os.times()
    return {"used_cpu_sys": f"{times.system:.6f}", "used_cpu_user": f"{times.user:.6f}"}


def cluster_section(server) -> dict[str, Any]:
    return {"cluster_enabled": int(server.node.clustered)}


def keyspace_section(server) -> dict[str, Any]:
    keys = expires = 0
    for ns in server.engine.namespaces.values():
        keys += ns.count()
    if not keys:
        return {}
    return {"db0": f"keys={keys},expires={expires},avg_ttl=0"}


def namespace_stats(ns) -> dict[str, Any]:
    """A namespace's statistics under Aerospike's names."""
    stats: dict[str, Any] = {
        "objects": ns.count(),
        "sets": len(ns.set_objects),
        "memory_used_bytes": ns.used_bytes,
        "memory_size": ns.config["memory-size"],
        "memory_used_pct": round(100 * ns.used_bytes / max(ns.config["memory-size"], 1), 2),
        "tombstones": sum(len(part) for part in ns.tombstones.values()),
        "stop_writes": int(ns.used_bytes >= ns.stop_bytes or ns.stop_writes),
        "hwm_breached": int(ns.used_bytes > ns.evict_bytes or ns.storage.evict_wanted()),
        "replication_factor": ns.config["replication-factor"],
        "storage_engine": ns.config["storage-engine"],
        "default_ttl": ns.config["default-ttl"],
    }
    stats.update(asdict(ns.stats))
    stats.update(ns.storage.info())
    return stats


def namespace_section(server) -> dict[str, Any]:
    return {ns.name: _line(namespace_stats(ns)) for ns in server.engine.namespaces.values()}


def sets_section(server) -> dict[str, Any]:
    out = {}
    for ns in server.engine.namespaces.values():
        for setname, objects in sorted(ns.set_objects.items()):
            out[f"{ns.name}.{setname.decode('utf-8', 'replace')}"] = f"objects={objects}"
    return out


def _line(values: dict[str, Any]) -> str:
    return ",".join(f"{k}={v}" for k, v in values.items())


SECTIONS: dict[str, Callable[[Any], dict[str, Any]]] = {
    "server": server_section,
    "clients": clients_section,
    "memory": memory_section,
    "persistence": persistence_section,
    "stats": stats_section,
    "replication": replication_section,
    "cpu": cpu_section,
    "cluster": cluster_section,
    "keyspace": keyspace_section,
    "namespace": namespace_section,
    "sets": sets_section,
}


# Other names of sections: Redis calls per-command percentiles `latencystats`.
ALIASES = {"latency": "latencystats"}


def render_info(server, wanted: list[str]) -> str:
    providers = dict(SECTIONS)
    providers.update(server.info_sections)
    if not wanted or wanted == ["default"]:
        names = DEFAULT_SECTIONS + [n for n in server.info_sections if n not in DEFAULT_SECTIONS]
    elif "all" in wanted or "everything" in wanted:
        names = list(providers)
    else:
        wanted = [ALIASES.get(n, n) for n in wanted]
        names = [n for n in dict.fromkeys(wanted) if n in providers]
    parts = []
    for name in names:
        values = providers[name](server)
        lines = [f"# {name.capitalize()}"] + [f"{k}:{v}" for k, v in values.items()]
        parts.append("\r\n".join(lines) + "\r\n")
    return "\r\n".join(parts)
