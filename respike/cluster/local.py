"""`respike cluster-local`: a cluster of N nodes on this machine, in one command.

Node i listens on 127.0.0.(i+1):PORT (default 7000), its fabric on PORT+10000, with its own
data dir under --dir; nodes 2..N seed from node 1. Ctrl-C stops them all.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import time

from ..config import ConfigError
from ..process import NodeProcess, wait_until


def cluster_ready(nodes: list[NodeProcess]) -> bool:
    import redis

    try:
        infos = [
            redis.Redis(host=n.host, port=n.port, socket_timeout=1).info("cluster") for n in nodes
        ]
    except (redis.RedisError, OSError):
        return False
    return len({i.get("cluster_key") for i in infos}) == 1 and all(
        i.get("cluster_size") == len(nodes) for i in infos
    )


def main(argv: list[str]) -> int:
    p = argparse.ArgumentParser(prog="respike cluster-local", description=__doc__)
    p.add_argument("--nodes", type=int, default=3, help="how many nodes (default 3)")
    p.add_argument("--port", type=int, default=7000, help="RESP port of every node (default 7000)")
    p.add_argument("--dir", default="respike-cluster", help="parent of the nodes' data dirs")
    p.add_argument("--config", help="TOML file every node reads (its [namespaces] apply to all)")
    args = p.parse_args(argv)
    if not 1 <= args.nodes <= 200:
        raise ConfigError("--nodes: must be between 1 and 200")
    config = ""
    if args.config:
        try:
            with open(args.config) as fh:
                config = fh.read()
        except OSError as exc:
            raise ConfigError(f"--config {args.config}: {exc.strerror}") from None
    nodes: list[NodeProcess] = []
    try:
        for i in range(args.nodes):
            data_dir = os.path.abspath(os.path.join(args.dir, f"node{i + 1}"))
            os.makedirs(data_dir, exist_ok=True)
            seed = ["--seed", nodes[0].address] if nodes else []
            node = NodeProcess(
                host=f"127.0.0.{i + 1}", port=args.port, data_dir=data_dir, config=config, args=seed
            )
            nodes.append(node.start())
            print(f"node {i + 1}: redis-cli -h {node.host} -p {node.port}   (log: {node.log_path})")
        wait_until(lambda: cluster_ready(nodes), 60, f"{args.nodes} nodes to form one cluster", 0.2)
        print(
            f"cluster of {args.nodes} nodes is up. Cluster-aware clients: "
            f"redis-cli -c -h 127.0.0.1 -p {args.port}; admin: respike-admin -h 127.0.0.1 -p {args.port} info"
        )
        print("Ctrl-C stops every node.")
        signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
        while all(n.alive() for n in nodes):
            time.sleep(0.5)
        print("a node exited; stopping the others", file=sys.stderr)
        return 1
    except (KeyboardInterrupt, SystemExit):
        return 0
    finally:
        for node in nodes:
            node.stop()
