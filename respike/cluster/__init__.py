"""The distribution layer: membership, partition table, replication, migrations.

Every module here is a sans-I/O state machine (no sockets, threads, asyncio or wall
clock); `node.ClusterNode` composes them for one node, and the fabric and event loop
around it only move bytes. See docs/cluster.md for how it works and what it promises, and
tests/sim/ for the deterministic simulator that runs whole clusters of them.
"""
