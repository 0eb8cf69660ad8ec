"""respike: Aerospike's semantics behind the Redis protocol."""

__version__ = "0.1.0"
