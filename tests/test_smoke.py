"""The node starts, answers over both protocols, and stops cleanly."""

import redis


def test_ping_set_get(r):
    assert r.ping() is True
    assert r.set("greeting", "hello") is True
    assert r.get("greeting") == b"hello"


def test_hello_3_map(node):
    client = redis.Redis(host=node.host, port=node.port, protocol=3)
    reply = client.execute_command("HELLO", "3")
    assert reply[b"proto"] == 3 and reply[b"server"] == b"redis"
    client.close()
