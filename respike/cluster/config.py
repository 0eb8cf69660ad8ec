"""Settings of the cluster core, with Aerospike's defaults, and the planted bugs.

`ClusterConfig.from_config` reads the node's `respike.toml` settings (respike/config.py),
so the integration only passes the node id and its fabric address.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ..keyspace import N_PARTITIONS
from .records import ConflictPolicy


@dataclass(frozen=True, slots=True)
class NamespacePolicy:
    replication_factor: int = 2
    conflict_policy: ConflictPolicy = ConflictPolicy.GENERATION
    commit_all: bool = True  # commit-level "all" (False: "master")


@dataclass(frozen=True, slots=True)
class PlantedBugs:
    """Deliberate bugs the simulator must catch (tests/test_cluster_planted_bugs.py).

    Never set outside tests: each one breaks a guarantee on purpose.
    """

    forget_promises: bool = False  # Paxos acceptor does not remember its promises
    skip_reconcile: bool = False  # migration stores incoming copies without comparing
    ack_before_replicas: bool = False  # commit-level all reports success before replicas ack
    master_without_data: bool = False  # natural master serves a partition it has no data for
    quiesced_drops: bool = False  # a quiesced node drops the copies it no longer needs


@dataclass(frozen=True)
class ClusterConfig:
    node_id: int
    address: str = ""
    seeds: tuple[str, ...] = ()
    namespaces: dict[str, NamespacePolicy] = field(
        default_factory=lambda: {"test": NamespacePolicy()}
    )
    heartbeat_interval_ms: int = 150
    heartbeat_timeout: int = 10  # intervals
    transaction_timeout_ms: int = 1000
    retransmit_ms: int = 200  # resend unacknowledged fabric messages after this long
    migrate_threads: int = 1
    migrate_max_num_incoming: int = 4
    migrate_batch_records: int = 100
    read_dupres: bool = True  # reads at a master with unmerged duplicates resolve them first
    n_partitions: int = N_PARTITIONS  # the simulator uses fewer to run thousands of seeds
    bugs: PlantedBugs = PlantedBugs()

    @property
    def heartbeat_timeout_ms(self) -> int:
        return self.heartbeat_interval_ms * self.heartbeat_timeout

    @property
    def pause_threshold_ms(self) -> int:
        """A gap between calls longer than this means this node was paused (not running)."""
        return self.heartbeat_timeout_ms // 2

    @classmethod
    def from_config(cls, config: object, node_id: int, address: str) -> ClusterConfig:
        """Build from respike.config.Config (node and namespace settings)."""
        node = config.node  # type: ignore[attr-defined]
        namespaces = {
            name: NamespacePolicy(
                replication_factor=ns["replication-factor"],
                conflict_policy=ConflictPolicy.parse(ns["conflict-resolution-policy"]),
                commit_all=ns["commit-level"] == "all",
            )
            for name, ns in config.namespaces.items()  # type: ignore[attr-defined]
        }
        return cls(
            node_id=node_id,
            address=address,
            seeds=tuple(node["seeds"]),
            namespaces=namespaces,
            heartbeat_interval_ms=node["heartbeat-interval"],
            heartbeat_timeout=node["heartbeat-timeout"],
            transaction_timeout_ms=node["transaction-timeout"],
            migrate_threads=node["migrate-threads"],
            migrate_max_num_incoming=node["migrate-max-num-incoming"],
        )
