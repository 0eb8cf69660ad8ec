"""Settings: one declaration per setting drives parsing, validation, defaults,
`CONFIG GET/SET` (dynamic or static) and docs/configuration.md.

The TOML file has a `[node]` table and one `[namespaces.NAME]` table per namespace,
with Aerospike's setting names. Every setting has a default, so no file at all gives a
working node serving namespace `test` on 127.0.0.1:6379.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any


class ConfigError(Exception):
    """A bad setting; the text names the setting and the problem (one line)."""


# --- value parsers -------------------------------------------------------------------

_SIZE = re.compile(r"^\s*(\d+)\s*([KMGT]?)(i?B?)?\s*$", re.IGNORECASE)
_DURATION = re.compile(r"^\s*(\d+)\s*(ms|s|m|h|d)?\s*$", re.IGNORECASE)
_UNITS = {"": 1, "K": 1 << 10, "M": 1 << 20, "G": 1 << 30, "T": 1 << 40}
_SECONDS = {None: 1, "s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_size(value: Any) -> int:
    """Bytes from an integer or a string such as '64K', '4M', '2G'."""
    if isinstance(value, bool):
        raise ValueError("expected a size such as 4096, '64K', '4M' or '2G'")
    if isinstance(value, int):
        if value < 0:
            raise ValueError("must not be negative")
        return value
    m = _SIZE.match(str(value))
    if not m:
        raise ValueError("expected a size such as 4096, '64K', '4M' or '2G'")
    return int(m.group(1)) * _UNITS[m.group(2).upper()]


def parse_duration(value: Any) -> int:
    """Seconds from an integer or a string such as '30', '10s', '5m', '1h', '30d'."""
    if isinstance(value, bool):
        raise ValueError("expected a duration such as 30, '10s', '5m', '1h' or '30d'")
    if isinstance(value, int):
        if value < 0:
            raise ValueError("must not be negative")
        return value
    m = _DURATION.match(str(value))
    if not m or (m.group(2) or "").lower() == "ms":
        raise ValueError("expected a duration such as 30, '10s', '5m', '1h' or '30d'")
    return int(m.group(1)) * _SECONDS[(m.group(2) or None) and m.group(2).lower()]


def parse_bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("true", "yes", "1", "on"):
        return True
    if text in ("false", "no", "0", "off"):
        return False
    raise ValueError("expected true or false")


def parse_int(lo: int | None = None, hi: int | None = None) -> Callable[[Any], int]:
    def parse(value: Any) -> int:
        if isinstance(value, bool):
            raise ValueError("expected an integer")
        try:
            number = int(value)
        except (TypeError, ValueError):
            raise ValueError("expected an integer") from None
        if lo is not None and number < lo:
            raise ValueError(f"must be at least {lo}")
        if hi is not None and number > hi:
            raise ValueError(f"must be at most {hi}")
        return number

    return parse


def parse_choice(*choices: str) -> Callable[[Any], str]:
    def parse(value: Any) -> str:
        text = str(value).strip().lower()
        if text not in choices:
            raise ValueError("expected one of " + ", ".join(repr(c) for c in choices))
        return text

    return parse


def parse_str(value: Any) -> str:
    if not isinstance(value, str):
        raise ValueError("expected a string")
    return value


def parse_list_of_str(value: Any) -> list[str]:
    if isinstance(value, str):
        value = [v for v in value.replace(",", " ").split() if v]
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ValueError("expected a list of strings")
    return list(value)


def parse_pct(value: Any) -> int:
    return parse_int(0, 100)(value)


# Keyspace notification classes (Redis's server.h NOTIFY_*), by notify-keyspace-events
# letter; respike/resp/notify.py publishes by them.
NOTIFY_KEYSPACE, NOTIFY_KEYEVENT = 1 << 0, 1 << 1
NOTIFY_LETTERS = {
    "g": 1 << 2,
    "$": 1 << 3,
    "l": 1 << 4,
    "s": 1 << 5,
    "h": 1 << 6,
    "z": 1 << 7,
    "x": 1 << 8,
    "e": 1 << 9,
    "t": 1 << 10,
    "m": 1 << 11,
    "d": 1 << 13,
    "n": 1 << 14,
    "K": NOTIFY_KEYSPACE,
    "E": NOTIFY_KEYEVENT,
}
NOTIFY_ALL = sum(NOTIFY_LETTERS[c] for c in "g$lshzxetd")  # 'A' (not m, not n)


def notify_flags(text: str) -> int:
    """notify-keyspace-events letters -> class bits, as Redis's keyspaceEventsStringToFlags."""
    flags = 0
    for ch in text:
        bit = NOTIFY_ALL if ch == "A" else NOTIFY_LETTERS.get(ch)
        if bit is None:
            raise ValueError("Invalid event class character. Use 'Ag$lshzxeKEtmdn'.")
        flags |= bit
    return flags


def notify_text(flags: int) -> str:
    """The letters CONFIG GET answers for `flags` (Redis's keyspaceEventsFlagsToString)."""
    if flags & NOTIFY_ALL == NOTIFY_ALL:
        out = "A"  # (Redis then leaves n out, though it stays on)
    else:
        out = "".join(c for c in "g$lshzxetdn" if flags & NOTIFY_LETTERS[c])
    return out + "".join(c for c in "KEm" if flags & NOTIFY_LETTERS[c])


def parse_notify_events(value: Any) -> str:
    """A notify-keyspace-events value, kept as given (shown normalized: Redis's spelling
    of `AKEn` is `AKE`, yet n stays on)."""
    if not isinstance(value, str):
        raise ValueError("expected a string of event class letters")
    notify_flags(value)
    return value


def show_notify_events(value: str) -> str:
    return notify_text(notify_flags(value))


class RedisValueError(ValueError):
    """A bad value whose text is Redis's own: CONFIG SET answers with it unchanged."""


# Client classes of client-output-buffer-limit; `slave` is Redis's old name for `replica`.
OUTPUT_CLASSES = {"normal": "normal", "replica": "replica", "slave": "replica", "pubsub": "pubsub"}
_MEM_UNITS = {
    "": 1,
    "b": 1,
    "k": 1000,
    "kb": 1024,
    "m": 1000**2,
    "mb": 1 << 20,
    "g": 1000**3,
    "gb": 1 << 30,
}
_MEM = re.compile(r"^(\d*)([a-z]*)$")
OutputLimits = dict[str, tuple[int, int, int]]  # class -> (hard bytes, soft bytes, soft seconds)


def parse_memory(text: str) -> int:
    """Redis's memtoull: digits with an optional b, k, kb, m, mb, g or gb (k = 1000, kb = 1024)."""
    m = _MEM.match(text.lower())
    if not m or m.group(2) not in _MEM_UNITS or len(m.group(1)) > 20:
        raise ValueError(text)
    return int(m.group(1) or 0) * _MEM_UNITS[m.group(2)]


def parse_output_limits(value: Any) -> OutputLimits:
    """`CLASS HARD SOFT SECONDS` groups, as Redis's client-output-buffer-limit takes them
    (a list of such strings, one per class as in redis.conf, is one value too). Only the
    classes named change; see `merge_output_limits`."""
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        value = " ".join(value)
    if not isinstance(value, str):
        raise ValueError("expected a string such as 'normal 256mb 64mb 60 pubsub 32mb 8mb 60'")
    words = value.split()
    if len(words) % 4:
        raise RedisValueError("Wrong number of arguments in buffer limit configuration.")
    limits: OutputLimits = {}
    for i in range(0, len(words), 4):
        name = OUTPUT_CLASSES.get(words[i].lower())
        if name is None:
            raise RedisValueError("Invalid client class specified in buffer limit configuration.")
        seconds = words[i + 3]
        try:
            hard, soft = parse_memory(words[i + 1]), parse_memory(words[i + 2])
            if not re.fullmatch(r"[+-]?\d+", seconds) or int(seconds) < 0:
                raise ValueError(seconds)
        except ValueError:
            raise RedisValueError(
                "Error in hard, soft or soft_seconds setting in buffer limit configuration."
            ) from None
        limits[name] = (hard, soft, int(seconds))
    return limits


def merge_output_limits(current: OutputLimits, given: OutputLimits) -> OutputLimits:
    return {**current, **given}


def show_output_limits(limits: OutputLimits) -> str:
    """As Redis's CONFIG GET shows it: every class, bytes, `slave` for replicas."""
    return " ".join(
        f"{'slave' if name == 'replica' else name} {hard} {soft} {seconds}"
        for name, (hard, soft, seconds) in limits.items()
    )


# --- declarations --------------------------------------------------------------------


@dataclass(frozen=True)
class Setting:
    name: str
    parse: Callable[[Any], Any]
    default: Any
    doc: str
    dynamic: bool = False
    show: Callable[[Any], str] = str
    # (current value, parsed value) -> new value, for settings a value changes only part of
    merge: Callable[[Any, Any], Any] | None = None

    def update(self, current: Any, raw: Any) -> Any:
        value = self.parse(raw)
        return value if self.merge is None else self.merge(current, value)


def _show_bool(value: bool) -> str:
    return "true" if value else "false"


def _show_list(value: list[str]) -> str:
    return ",".join(value)


def _defaults(settings: list[Setting]) -> dict[str, Setting]:
    return {s.name: s for s in settings}


NODE_SETTINGS = _defaults(
    [
        Setting("bind", parse_str, "127.0.0.1", "Address the RESP service and fabric bind to."),
        Setting("port", parse_int(1, 65535), 6379, "RESP service port."),
        Setting(
            "data-dir",
            parse_str,
            "respike-data",
            "Directory for the node id, system metadata and device files.",
        ),
        Setting(
            "seeds",
            parse_list_of_str,
            [],
            "Mesh heartbeat seeds, `IP:PORT` of other nodes' service ports.",
            show=_show_list,
        ),
        Setting(
            "log-level",
            parse_choice("debug", "info", "warning", "error"),
            "info",
            "Log verbosity.",
            dynamic=True,
        ),
        Setting("log-file", parse_str, "", "Append logs to this file instead of standard error."),
        Setting(
            "fabric-port",
            parse_int(0, 65535),
            0,
            "Node-to-node (fabric) port, also `--fabric-port`; 0 means service port + 10000, "
            "which must then be at most 65535. Peers that seed from this node name it "
            "`IP:PORT:FABRIC-PORT`.",
        ),
        Setting(
            "heartbeat-interval",
            parse_int(10, 10000),
            150,
            "Milliseconds between heartbeat pulses.",
        ),
        Setting(
            "heartbeat-timeout",
            parse_int(3, 1000),
            10,
            "Missed intervals before a node is declared dead.",
        ),
        Setting(
            "proto-max-bulk-len",
            parse_size,
            512 << 20,
            "Largest bulk string a client may send.",
            dynamic=True,
        ),
        Setting(
            "requirepass",
            parse_str,
            "",
            "Password for the `default` user (empty: no AUTH needed).",
            dynamic=True,
            show=lambda v: v,
        ),
        Setting(
            "maxclients",
            parse_int(1, 1_000_000),
            10000,
            "Most client connections at once.",
            dynamic=True,
        ),
        Setting(
            "slowlog-log-slower-than",
            parse_int(-1),
            10000,
            "Microseconds; commands slower than this go to SLOWLOG (-1 off).",
            dynamic=True,
        ),
        Setting("slowlog-max-len", parse_int(0), 128, "Entries kept in SLOWLOG.", dynamic=True),
        Setting(
            "lua-max-memory",
            parse_size,
            256 << 20,
            "Most memory one Lua runtime (scripts, record UDFs) may allocate; past it the "
            "script or UDF fails with an error.",
        ),
        Setting(
            "busy-reply-threshold",
            parse_int(0),
            5000,
            "Milliseconds a script or function runs before other clients get BUSY (and "
            "SCRIPT KILL / FUNCTION KILL may stop it); lua-time-limit is its old name.",
            dynamic=True,
        ),
        Setting(
            "client-output-buffer-limit",
            parse_output_limits,
            {
                "normal": (256 << 20, 64 << 20, 60),
                "replica": (256 << 20, 64 << 20, 60),
                "pubsub": (32 << 20, 8 << 20, 60),
            },
            "Replies a client has not read yet, per class (`normal`, `replica`, `pubsub`): "
            "`CLASS HARD SOFT SECONDS`, as Redis's. Past HARD bytes, or past SOFT bytes for "
            "more than SECONDS, the connection is closed (0 = no limit). Unlike Redis, "
            "`normal` is limited by default (see below).",
            dynamic=True,
            show=show_output_limits,
            merge=merge_output_limits,
        ),
        Setting(
            "udf-time-limit",
            parse_int(1),
            1000,
            "Milliseconds a record UDF (AS.APPLY) may run before it fails with UDF_BAD_RESPONSE.",
            dynamic=True,
        ),
        Setting(
            "notify-keyspace-events",
            parse_notify_events,
            "",
            "Keyspace notifications to publish, as Redis's class letters (K keyspace, E "
            "keyevent; g $ l s h z x e t m d n, A for g$lshzxetd); empty: none.",
            dynamic=True,
            show=show_notify_events,
        ),
        Setting("metrics-port", parse_int(0, 65535), 0, "Prometheus text endpoint port (0 = off)."),
        Setting(
            "redirect-mode",
            parse_choice("auto", "moved", "proxy"),
            "auto",
            "How requests for partitions mastered elsewhere are answered.",
            dynamic=True,
        ),
        Setting(
            "transaction-timeout",
            parse_int(1, 600_000),
            1000,
            "Milliseconds a proxied or replicated request may take.",
            dynamic=True,
        ),
        Setting(
            "migrate-threads",
            parse_int(0, 100),
            1,
            "Partitions migrated out at once (0 pauses migrations).",
            dynamic=True,
        ),
        Setting(
            "migrate-max-num-incoming",
            parse_int(1, 256),
            4,
            "Partitions received at once.",
            dynamic=True,
        ),
        Setting(
            "migrate-sleep",
            parse_int(0, 1_000_000),
            1,
            "Microseconds to sleep between migrated records batches.",
            dynamic=True,
        ),
    ]
)

NAMESPACE_SETTINGS = _defaults(
    [
        Setting(
            "replication-factor",
            parse_int(1, 256),
            2,
            "Copies of each partition (capped at cluster size).",
        ),
        Setting(
            "default-ttl",
            parse_duration,
            0,
            "TTL given to records written without one (0 = never expire).",
            dynamic=True,
        ),
        Setting(
            "max-ttl",
            parse_duration,
            10 * 365 * 86400,
            "Largest TTL a write may ask for.",
            dynamic=True,
        ),
        Setting(
            "storage-engine",
            parse_choice("memory", "device"),
            "memory",
            "Where records live: memory, or log-structured files.",
        ),
        Setting(
            "nsup-period",
            parse_duration,
            120,
            "Seconds between expiry/eviction rounds (0 = off).",
            dynamic=True,
        ),
        Setting(
            "allow-ttl-without-nsup",
            parse_bool,
            False,
            "Accept TTLs while nsup-period is 0.",
            dynamic=True,
            show=_show_bool,
        ),
        Setting(
            "max-record-size",
            parse_size,
            1 << 20,
            "Largest record (key + bins) accepted.",
            dynamic=True,
        ),
        Setting(
            "memory-size",
            parse_size,
            4 << 30,
            "Memory budget for record data (memory engine) that the pct limits refer to.",
            dynamic=True,
        ),
        Setting(
            "stop-writes-used-pct",
            parse_pct,
            70,
            "Refuse writes (error 8) above this share of memory-size (0 = off).",
            dynamic=True,
        ),
        Setting(
            "evict-used-pct",
            parse_pct,
            0,
            "Evict soonest-to-expire records above this share of memory-size (0 = off).",
            dynamic=True,
        ),
        Setting(
            "evict-tenths-pct",
            parse_int(1, 1000),
            5,
            "Tenths of a percent of records evicted per round.",
            dynamic=True,
        ),
        Setting(
            "max-bin-name-length",
            parse_int(0, 1 << 20),
            0,
            "Longest bin (hash field) name, bytes (0 = unlimited; Aerospike uses 15).",
            dynamic=True,
        ),
        Setting(
            "tomb-raider-eligible-age",
            parse_duration,
            86400,
            "While clustered, deletes are kept as tombstones this long (so a stale copy cannot bring a record back), then forgotten.",
            dynamic=True,
        ),
        Setting(
            "commit-level",
            parse_choice("all", "master"),
            "all",
            "Reply after every replica acknowledged the write, or after the master.",
            dynamic=True,
        ),
        Setting(
            "conflict-resolution-policy",
            parse_choice("generation", "last-update-time"),
            "generation",
            "Which copy wins when copies differ.",
            dynamic=True,
        ),
        Setting(
            "file",
            parse_list_of_str,
            [],
            "Device files (default: one file under data-dir).",
            show=_show_list,
        ),
        Setting("file-size", parse_size, 1 << 30, "Size of each device file."),
        Setting("write-block-size", parse_size, 1 << 20, "Device write block size."),
        Setting(
            "flush-max-ms",
            parse_int(1, 60_000),
            1000,
            "Flush a partial write buffer after this many ms.",
            dynamic=True,
        ),
        Setting(
            "commit-to-device",
            parse_bool,
            False,
            "Acknowledge writes only once they are on disk.",
            show=_show_bool,
        ),
        Setting(
            "post-write-cache",
            parse_size,
            256 << 20,
            "Recently written blocks kept in memory for reads.",
            dynamic=True,
        ),
        Setting(
            "defrag-lwm-pct",
            parse_pct,
            50,
            "Defragment blocks whose live data fell below this share.",
            dynamic=True,
        ),
        Setting(
            "defrag-sleep",
            parse_int(0, 1_000_000),
            1000,
            "Microseconds to sleep after each defragmented block.",
            dynamic=True,
        ),
        Setting(
            "stop-writes-avail-pct",
            parse_pct,
            5,
            "Refuse writes when free device blocks fall below this share.",
            dynamic=True,
        ),
    ]
)


@dataclass
class NamespaceConfig:
    name: str
    values: dict[str, Any]

    def __getitem__(self, key: str) -> Any:
        return self.values[key]


@dataclass
class Config:
    node: dict[str, Any]
    namespaces: dict[str, NamespaceConfig] = field(default_factory=dict)

    @property
    def default_namespace(self) -> str:
        return next(iter(self.namespaces))


# Redis's older names of node settings: the config file, CONFIG GET and CONFIG SET take
# either name for the one setting.
NODE_ALIASES = {"lua-time-limit": "busy-reply-threshold"}


def _apply(settings: dict[str, Setting], table: dict[str, Any], where: str) -> dict[str, Any]:
    values = {name: s.default for name, s in settings.items()}
    for key, raw in table.items():
        if settings is NODE_SETTINGS:
            key = NODE_ALIASES.get(key, key)
        setting = settings.get(key)
        if setting is None:
            raise ConfigError(f"{where}: unknown setting '{key}'")
        try:
            values[key] = setting.update(values[key], raw)
        except ValueError as exc:
            raise ConfigError(f"{where}: bad value for '{key}' ({raw!r}): {exc}") from None
    return values


_NS_NAME = re.compile(r"^[A-Za-z0-9_-]{1,31}$")


def build_config(data: dict[str, Any], overrides: dict[str, Any] | None = None) -> Config:
    """Validate a parsed TOML document plus command-line overrides into a Config."""
    unknown = set(data) - {"node", "namespaces"}
    if unknown:
        raise ConfigError(
            f"unknown table '[{sorted(unknown)[0]}]' (expected [node] and [namespaces.NAME])"
        )
    node_table = dict(data.get("node", {}))
    node_table.update(overrides or {})
    node = _apply(NODE_SETTINGS, node_table, "[node]")
    check_node(node)
    spaces = data.get("namespaces") or {"test": {}}
    if not isinstance(spaces, dict) or not all(isinstance(v, dict) for v in spaces.values()):
        raise ConfigError("[namespaces]: expected one [namespaces.NAME] table per namespace")
    config = Config(node=node)
    for name, table in spaces.items():
        if not _NS_NAME.match(name):
            raise ConfigError(
                f"[namespaces.{name}]: namespace names are 1-31 letters, digits, '_' or '-'"
            )
        values = _apply(NAMESPACE_SETTINGS, table, f"[namespaces.{name}]")
        check_namespace(name, values)
        config.namespaces[name] = NamespaceConfig(name, values)
    check_device_files(config)
    return config


def fabric_port(node: dict[str, Any]) -> int:
    """The fabric's port: `fabric-port`, or the service port + 10000 when it is 0."""
    return node["fabric-port"] or node["port"] + 10000


def check_node(node: dict[str, Any]) -> None:
    """Ports the node will listen on: in range and distinct, checked before anything starts.

    The fabric's default port is derived (service port + 10000); past 65535 the node used to
    start and log a fabric address no peer could reach.
    """
    port, fabric = node["port"], fabric_port(node)
    if fabric > 65535:
        raise ConfigError(
            f"[node] 'fabric-port': the default, port {port} + 10000 = {fabric}, is past 65535; "
            "choose one with --fabric-port or [node] fabric-port"
        )
    if fabric == port:
        raise ConfigError(f"[node] 'fabric-port' ({fabric}) is the service port; choose another")
    metrics = node["metrics-port"]
    if metrics and metrics in (port, fabric):
        which = "service" if metrics == port else "fabric"
        raise ConfigError(f"[node] 'metrics-port' ({metrics}) is the {which} port; choose another")
    for seed in node["seeds"]:
        check_seed(seed)


def check_seed(seed: str) -> None:
    """A seed is `IP:PORT` (its fabric on PORT + 10000) or `IP:PORT:FABRIC-PORT`."""
    parts = seed.rsplit(":", 2)
    if len(parts) == 3 and parts[1].isdigit() and parts[2].isdigit():
        numbers = [int(parts[1]), int(parts[2])]
    elif len(parts) > 1 and parts[-1].isdigit():
        numbers = [int(parts[-1]), int(parts[-1]) + 10000]
    else:
        raise ConfigError(f"[node] 'seeds': '{seed}' is not IP:PORT or IP:PORT:FABRIC-PORT")
    if not all(1 <= n <= 65535 for n in numbers):
        raise ConfigError(
            f"[node] 'seeds': '{seed}' names port {max(numbers)}, past 65535 "
            "(a seed whose port + 10000 is past 65535 needs IP:PORT:FABRIC-PORT)"
        )


def check_namespace(name: str, v: dict[str, Any]) -> None:
    """Cross-setting rules, as Aerospike enforces them at start-up."""
    where = f"[namespaces.{name}]"
    if v["default-ttl"] and not v["nsup-period"] and not v["allow-ttl-without-nsup"]:
        raise ConfigError(
            f"{where}: 'default-ttl' is set but 'nsup-period' is 0 (set allow-ttl-without-nsup)"
        )
    if v["default-ttl"] > v["max-ttl"]:
        raise ConfigError(f"{where}: 'default-ttl' exceeds 'max-ttl'")
    if (
        v["evict-used-pct"]
        and v["stop-writes-used-pct"]
        and v["evict-used-pct"] >= v["stop-writes-used-pct"]
    ):
        raise ConfigError(f"{where}: 'evict-used-pct' must be below 'stop-writes-used-pct'")
    if not 64 <= v["max-record-size"] <= 8 << 20:
        raise ConfigError(f"{where}: 'max-record-size' must be between 64 bytes and 8M")
    if v["storage-engine"] == "device":
        wbs = v["write-block-size"]
        if wbs < 64 << 10 or wbs > 8 << 20 or wbs & (wbs - 1):
            raise ConfigError(
                f"{where}: 'write-block-size' must be a power of two between 64K and 8M"
            )
        if v["file-size"] < 8 * wbs:
            raise ConfigError(f"{where}: 'file-size' must hold at least 8 write blocks")
        if v["max-record-size"] > wbs:
            raise ConfigError(f"{where}: 'max-record-size' exceeds 'write-block-size'")
        if v["file-size"] % wbs:
            raise ConfigError(f"{where}: 'file-size' must be a multiple of 'write-block-size'")
        if len(set(v["file"])) != len(v["file"]):
            raise ConfigError(f"{where}: 'file' lists the same file twice")
        if len(v["file"]) > 128:
            raise ConfigError(f"{where}: at most 128 device files per namespace")
        if v["defrag-lwm-pct"] > 99:
            raise ConfigError(f"{where}: 'defrag-lwm-pct' must be at most 99")
        if v["stop-writes-avail-pct"] >= 50:
            raise ConfigError(f"{where}: 'stop-writes-avail-pct' must be below 50")


def check_device_files(config: Config) -> None:
    """Two device namespaces never share a file (relative paths are under data-dir)."""
    import os.path

    owners: dict[str, str] = {}
    for name, ns in config.namespaces.items():
        if ns["storage-engine"] != "device":
            continue
        for path in ns["file"] or [f"{name}.dat"]:
            full = os.path.normpath(os.path.join(config.node["data-dir"], path))
            if full in owners:
                raise ConfigError(
                    f"[namespaces.{name}]: file '{path}' is also a file of namespace '{owners[full]}'"
                )
            owners[full] = name


def load_config(path: str | None, overrides: dict[str, Any] | None = None) -> Config:
    data: dict[str, Any] = {}
    if path:
        try:
            with open(path, "rb") as fh:
                data = tomllib.load(fh)
        except OSError as exc:
            raise ConfigError(f"--config {path}: {exc.strerror}") from None
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"--config {path}: not valid TOML: {exc}") from None
    return build_config(data, overrides)


def set_dynamic(settings: dict[str, Setting], values: dict[str, Any], key: str, raw: Any) -> None:
    """Change one setting at run time; static ones need a restart."""
    setting = settings.get(key)
    if setting is None:
        raise ConfigError(f"unknown setting '{key}'")
    if not setting.dynamic:
        raise ConfigError(
            f"'{key}' cannot be changed at run time; edit the config file and restart the node"
        )
    try:
        values[key] = setting.update(values[key], raw)
    except RedisValueError as exc:
        raise ConfigError(str(exc)) from None
    except ValueError as exc:
        raise ConfigError(f"bad value for '{key}' ({raw}): {exc}") from None
