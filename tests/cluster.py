"""Real multi-node clusters for the tests: node processes on their own 127.0.x.y addresses,
a write workload that records what was acknowledged, and loopback partitions (iptables)."""

from __future__ import annotations

import itertools
import random
import shutil
import subprocess
import threading
import time
from dataclasses import dataclass, field

import redis

from respike.process import NodeProcess, wait_until

TAG = "respike-test"
_subnets = itertools.count(1)


def iptables_available() -> bool:
    if shutil.which("iptables") is None:
        return False
    return subprocess.run(["iptables", "-L", "INPUT", "-n"], capture_output=True).returncode == 0


def cut(a: str, b: str) -> None:
    """Drop traffic between two loopback addresses, both ways."""
    for src, dst in ((a, b), (b, a)):
        subprocess.run(
            [
                "iptables",
                "-A",
                "INPUT",
                "-i",
                "lo",
                "-s",
                src,
                "-d",
                dst,
                "-m",
                "comment",
                "--comment",
                TAG,
                "-j",
                "DROP",
            ],
            check=True,
        )


def heal() -> None:
    """Remove every rule this test suite added (found by its comment tag)."""
    out = subprocess.run(["iptables", "-S", "INPUT"], capture_output=True, text=True).stdout
    for line in out.splitlines():
        if TAG in line and line.startswith("-A "):
            subprocess.run(["iptables", "-D", *line.split()[1:]], check=False)


class Cluster:
    def __init__(self, n: int, config: str = "", subnet: int | None = None):
        subnet = subnet if subnet is not None else 100 + next(_subnets)
        self.nodes: list[NodeProcess] = []
        self.config = config
        for i in range(n):
            host = f"127.0.{subnet}.{i + 1}"
            args = ["--seed", self.nodes[0].address] if self.nodes else []
            proc = NodeProcess(host=host, config=config, args=args + ["--log-level", "info"])
            self.nodes.append(proc)

    def start(self, timeout: float = 60) -> Cluster:
        for proc in self.nodes:
            proc.start()
        self.wait_formed(self.nodes, timeout)
        return self

    def client(self, proc: NodeProcess, **kw) -> redis.Redis:
        return redis.Redis(host=proc.host, port=proc.port, socket_timeout=5, protocol=2, **kw)

    def info(self, proc: NodeProcess, section: str = "cluster") -> dict:
        return self.client(proc).info(section)

    def _formed(self, group: list[NodeProcess]) -> bool:
        try:
            infos = [self.info(p) for p in group]
        except (redis.RedisError, OSError):
            return False
        keys = {i.get("cluster_key") for i in infos}
        return (
            len(keys) == 1
            and all(i.get("cluster_size") == len(group) for i in infos)
            and all(i.get("cluster_integrity") == "true" for i in infos)
        )

    def wait_formed(self, group: list[NodeProcess], timeout: float = 60) -> None:
        wait_until(lambda: self._formed(group), timeout, f"a cluster of {len(group)} nodes", 0.1)

    def wait_migrated(self, group: list[NodeProcess], timeout: float = 120) -> None:
        def done() -> bool:
            try:
                return self._formed(group) and all(
                    self.info(p, "migrations").get("migrate_partitions_remaining") == 0
                    and self.info(p).get("acting_master_partitions") == 0
                    for p in group
                )
            except (redis.RedisError, OSError):
                return False

        wait_until(done, timeout, "migrations to finish", 0.2)

    def stop(self) -> None:
        for proc in self.nodes:
            proc.cleanup()


@dataclass
class Workload:
    """Writers that each write new keys (value = key) through random live nodes and record
    which writes were acknowledged, and which had an unknown outcome (errors, timeouts)."""

    cluster: Cluster
    writers: int = 4
    prefix: str = "w"
    acked: set[str] = field(default_factory=set)
    unknown: set[str] = field(default_factory=set)
    _stop: threading.Event = field(default_factory=threading.Event)
    _threads: list[threading.Thread] = field(default_factory=list)

    def _run(self, wid: int) -> None:
        rng = random.Random(wid)
        clients: dict[str, redis.Redis] = {}
        avoid: dict[str, float] = {}  # node address -> until when it is skipped after an error
        seq = 0
        while not self._stop.is_set():
            proc = rng.choice(self.cluster.nodes)
            if not proc.alive() or avoid.get(proc.address, 0) > time.monotonic():
                time.sleep(0.001)
                continue
            client = clients.get(proc.address) or clients.setdefault(
                proc.address,
                redis.Redis(
                    host=proc.host,
                    port=proc.port,
                    protocol=2,
                    socket_timeout=2,
                    socket_connect_timeout=1,
                ),
            )
            key = f"{self.prefix}{wid}:{seq}"
            seq += 1
            try:
                client.set(key, key)
                self.acked.add(key)
            except (redis.RedisError, OSError):
                self.unknown.add(key)
                clients.pop(proc.address, None)
                avoid[proc.address] = time.monotonic() + 3

    def start(self) -> Workload:
        for wid in range(self.writers):
            thread = threading.Thread(target=self._run, args=(wid,), daemon=True)
            thread.start()
            self._threads.append(thread)
        return self

    def stop(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(30)

    def missing(self, proc: NodeProcess) -> list[str]:
        """Acknowledged keys that a read through `proc` does not return correctly."""
        client = self.cluster.client(proc)
        keys = sorted(self.acked)
        lost = []
        for i in range(0, len(keys), 500):
            chunk = keys[i : i + 500]
            pipe = client.pipeline(transaction=False)
            for key in chunk:
                pipe.get(key)
            for key, value in zip(chunk, pipe.execute(), strict=True):
                if value != key.encode():
                    lost.append(key)
        return lost
