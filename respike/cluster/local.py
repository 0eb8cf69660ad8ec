"""`respike cluster-local`: a cluster of N nodes on this machine, in one command.

Node k (k = 1..N) listens on address BASE-IP + (k-1) * IP-STEP, port PORT + (k-1) *
PORT-STEP: by default 127.0.0.1, 127.0.0.2, ... 127.0.0.N, all on port 7000 (Linux
answers on every 127.x address; elsewhere use --ip-step 0 --port-step 1: 127.0.0.1 ports
7000, 7001, ...). Each node's fabric is on its port + 10000, its data dir is DIR/nodeK;
nodes 2..N seed from node 1. Ctrl-C stops them all.
"""

from __future__ import annotations

import argparse
import ipaddress
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


def node_addresses(args: argparse.Namespace, count: int) -> list[tuple[str, int]]:
    """(address, port) of each node; one line naming the option when they cannot be used."""
    try:
        first = ipaddress.IPv4Address(args.base_ip)
        ips = [str(first + k * args.ip_step) for k in range(count)]
    except (ValueError, ipaddress.AddressValueError):
        raise ConfigError(
            f"--base-ip/--ip-step: {count} addresses from '{args.base_ip}' are not all IPv4"
        ) from None
    out = [(ip, args.port + k * args.port_step) for k, ip in enumerate(ips)]
    if len(set(out)) < count:
        raise ConfigError("--ip-step/--port-step: two nodes would share an address and port")
    for _, port in out:
        if not 1 <= port <= 55535:
            raise ConfigError(
                f"--port/--port-step: port {port} is out of range (1-55535: the fabric is +10000)"
            )
    return out


def main(argv: list[str]) -> int:
    p = argparse.ArgumentParser(
        prog="respike cluster-local",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--nodes", type=int, default=3, metavar="N", help="how many nodes (default 3)")
    p.add_argument(
        "--base-ip", default="127.0.0.1", metavar="IP", help="node 1's address (default 127.0.0.1)"
    )
    p.add_argument(
        "--ip-step",
        type=int,
        default=1,
        metavar="K",
        help="added to the address per node (default 1)",
    )
    p.add_argument(
        "--port", type=int, default=7000, metavar="PORT", help="node 1's RESP port (default 7000)"
    )
    p.add_argument(
        "--port-step",
        type=int,
        default=0,
        metavar="K",
        help="added to the port per node (default 0)",
    )
    p.add_argument("--dir", default="respike-cluster", help="parent of the nodes' data dirs")
    p.add_argument("--config", help="TOML file every node reads (its [namespaces] apply to all)")
    args = p.parse_args(argv)
    if not 1 <= args.nodes <= 200:
        raise ConfigError("--nodes: must be between 1 and 200")
    addresses = node_addresses(args, args.nodes)
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
            host, port = addresses[i]
            node = NodeProcess(host=host, port=port, data_dir=data_dir, config=config, args=seed)
            nodes.append(node.start())
            print(f"node {i + 1}: redis-cli -h {node.host} -p {node.port}   (log: {node.log_path})")
        wait_until(lambda: cluster_ready(nodes), 60, f"{args.nodes} nodes to form one cluster", 0.2)
        print(
            f"cluster of {args.nodes} nodes is up. Cluster-aware clients: "
            f"redis-cli -c -h {nodes[0].host} -p {nodes[0].port}; "
            f"admin: respike-admin -h {nodes[0].host} -p {nodes[0].port} info"
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
