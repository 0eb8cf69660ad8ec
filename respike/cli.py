"""`respike`: start a node. Bad settings stop start-up with one line and exit code 2."""

from __future__ import annotations

import argparse
import importlib
import logging
import logging.handlers
import os
import sys

from .config import ConfigError, load_config

EXIT_CONFIG = 2


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # one line, no usage dump
        raise ConfigError(message)


# `respike SUBCOMMAND ...`: each is listed in `respike --help` from here, so none is hidden.
SUBCOMMANDS = {
    "cluster-local": (
        "respike.cluster.local",
        "a cluster of N nodes on this machine (respike cluster-local --help)",
    ),
}

HELP_EPILOG = (
    "subcommands:\n"
    + "".join(f"  respike {name:<14} {summary}\n" for name, (_, summary) in SUBCOMMANDS.items())
    + "\nrespike-admin (a separate command) inspects and operates running nodes."
)


def node_parser() -> argparse.ArgumentParser:
    p = _Parser(
        prog="respike",
        description="Run a respike node (with no options: namespace test on 127.0.0.1:6379).",
        epilog=HELP_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--config", metavar="FILE", help="TOML configuration file")
    p.add_argument("--bind", metavar="IP", help="address to serve on (default 127.0.0.1)")
    p.add_argument("--port", metavar="N", help="RESP port (default 6379)")
    p.add_argument("--fabric-port", metavar="N", help="node-to-node port (default: --port + 10000)")
    p.add_argument(
        "--data-dir",
        metavar="DIR",
        help="node id, metadata and device files (default ./respike-data)",
    )
    p.add_argument(
        "--seed", metavar="IP:PORT", action="append", help="another node to join (repeatable)"
    )
    p.add_argument("--log-level", metavar="LEVEL", help="debug, info, warning or error")
    p.add_argument("--log-file", metavar="FILE", help="append logs here instead of stderr")
    return p


def overrides(args: argparse.Namespace) -> dict:
    """Command-line flags as [node] settings (flags win over the file)."""
    out = {}
    for flag in ("bind", "port", "fabric_port", "data_dir", "log_level", "log_file"):
        value = getattr(args, flag)
        if value is not None:
            out[flag.replace("_", "-")] = value
    if args.seed:
        out["seeds"] = args.seed
    return out


def prepare_data_dir(path: str) -> None:
    try:
        os.makedirs(path, exist_ok=True)
    except OSError as exc:
        raise ConfigError(f"data-dir '{path}': cannot create it: {exc.strerror}") from None
    if not os.path.isdir(path) or not os.access(path, os.W_OK | os.X_OK):
        raise ConfigError(f"data-dir '{path}': not a writable directory")


class _NodeIdFilter(logging.Filter):
    def __init__(self, node_id: str):
        super().__init__()
        self.node_id = node_id

    def filter(self, record: logging.LogRecord) -> bool:
        record.node_id = self.node_id
        return True


def setup_logging(level: str, path: str, node_id: str) -> None:
    if path:
        try:
            # reopened when logrotate moves the file away
            handler: logging.Handler = logging.handlers.WatchedFileHandler(path)
        except OSError as exc:
            raise ConfigError(f"log-file '{path}': {exc.strerror}") from None
    else:
        handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(
        logging.Formatter(
            "%(asctime)s.%(msecs)03d %(levelname)s [%(node_id)s] %(name)s: %(message)s",
            "%Y-%m-%d %H:%M:%S",
        )
    )
    handler.addFilter(_NodeIdFilter(node_id))
    root = logging.getLogger("respike")
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    root.propagate = False


def run_node(argv: list[str]) -> int:
    from .node import Node

    args = node_parser().parse_args(argv)
    config = load_config(args.config, overrides(args))
    prepare_data_dir(config.node["data-dir"])
    node = Node(config, args.config)
    setup_logging(config.node["log-level"], config.node["log-file"], node.node_id_hex)
    try:
        import uvloop

        uvloop.run(node.run())
    except ConfigError:
        raise
    return 0


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    try:
        if argv[:1] and argv[0] in SUBCOMMANDS:
            module = importlib.import_module(SUBCOMMANDS[argv[0]][0])
            return module.main(argv[1:])
        return run_node(argv)
    except ConfigError as exc:
        print(f"respike: {exc}", file=sys.stderr)
        return EXIT_CONFIG
    except KeyboardInterrupt:
        return 130
