"""Connection commands: PING, HELLO, AUTH, SELECT, CLIENT, ..."""

from __future__ import annotations

from ...errors import (
    AUTH_NO_PASSWORD,
    CACHING_NO_NOT_OPTOUT,
    CACHING_NOT_TRACKING,
    CACHING_YES_NOT_OPTIN,
    DB_OUT_OF_RANGE,
    SYNTAX,
    TRACKING_NO_REDIRECT_CLIENT,
    TRACKING_ONE_REDIRECT,
    WRONGPASS,
    RedisError,
    wrong_arity,
)
from ..encode import OK, PONG, Verbatim, bulk, encode, integer
from ..table import command, container, help_reply
from ..tracking import ClientTracking
from .args import to_int

G = "connection"
VERSION = "7.2.0"  # the Redis API level respike answers as


@command(
    "ping",
    -1,
    "fast",
    (0, 0, 0),
    G,
    "Returns the server's liveliness response.",
    "[message]",
    example="PING",
)
def ping(c, a):
    if len(a) > 2:
        raise RedisError(wrong_arity("ping"))
    if c.pubsub_mode and c.proto == 2:  # a subscribed RESP2 connection: Redis's array
        return b"*2\r\n$4\r\npong\r\n" + bulk(a[1] if len(a) == 2 else b"")
    return PONG if len(a) == 1 else bulk(a[1])


@command(
    "echo", 2, "fast", (0, 0, 0), G, "Returns the given string.", "message", example="ECHO hello"
)
def echo(c, a):
    return bulk(a[1])


def _check_auth(c, user: bytes, password: bytes) -> None:
    required = c.server.node_config["requirepass"]
    if user != b"default" or (required and password != required.encode()):
        raise RedisError(WRONGPASS)
    c.authenticated = True


@command(
    "auth",
    -2,
    "noscript loading stale fast no_auth allow_busy",
    (0, 0, 0),
    G,
    "Authenticates the connection.",
    "[username] password",
    since="1.0.0",
    example="AUTH default secret",
)
def auth(c, a):
    if len(a) > 3:
        raise RedisError(SYNTAX)
    if len(a) == 2:
        if not c.server.node_config["requirepass"]:
            raise RedisError(AUTH_NO_PASSWORD)
        _check_auth(c, b"default", a[1])
    else:
        _check_auth(c, a[1], a[2])
    return OK


def _valid_name(name: bytes) -> bool:
    return all(33 <= ch <= 126 for ch in name)


@command(
    "hello",
    -1,
    "noscript loading stale fast no_auth allow_busy",
    (0, 0, 0),
    G,
    "Handshakes with the Redis server.",
    "[protover:integer [AUTH username password] [SETNAME clientname]]",
    since="6.0.0",
    example="HELLO 3",
)
def hello(c, a):
    proto = c.proto
    if len(a) >= 2:
        proto = to_int(a[1], "ERR Protocol version is not an integer or out of range")
        if proto not in (2, 3):
            raise RedisError("NOPROTO unsupported protocol version")
    name = None
    i = 2
    while i < len(a):
        opt = a[i].upper()
        left = len(a) - 1 - i
        if opt == b"AUTH" and left >= 2:
            _check_auth(c, a[i + 1], a[i + 2])
            i += 3
        elif opt == b"SETNAME" and left >= 1:
            name = a[i + 1]
            if not _valid_name(name):
                raise RedisError(
                    "ERR Client names cannot contain spaces, newlines or special characters."
                )
            i += 2
        else:
            raise RedisError(
                f"ERR Syntax error in HELLO option '{a[i].decode('utf-8', 'replace')}'"
            )
    if not c.authenticated:
        raise RedisError(
            "NOAUTH HELLO must be called with the client already authenticated, otherwise the HELLO <proto> AUTH <user> <pass> option can be used to authenticate the client and select the RESP protocol version at the same time"
        )
    if name is not None:
        c.name = name
    c.proto = proto
    return encode(server_hello(c), proto)


def server_hello(c) -> dict:
    return {
        "server": "redis",
        "version": VERSION,
        "proto": c.proto,
        "id": c.id,
        "mode": "cluster" if c.server.node.clustered else "standalone",
        "role": "master",
        "modules": [],
    }


@command(
    "select",
    2,
    "loading stale fast",
    (0, 0, 0),
    G,
    "Changes the selected database (only 0 exists).",
    "index:integer",
    example="SELECT 0",
)
def select(c, a):
    index = to_int(a[1])
    if index != 0:
        raise RedisError(DB_OUT_OF_RANGE)
    return OK


@command(
    "quit",
    -1,
    "noscript loading stale fast no_auth allow_busy",
    (0, 0, 0),
    G,
    "Closes the connection.",
    "",
    example="QUIT",
)
def quit_(c, a):
    return _answer_and_close(c, OK)


def _answer_and_close(c, reply: bytes) -> bytes:
    """Send the replies so far and `reply`, then close (QUIT, CLIENT KILL of oneself).

    The reply is written here because the connection stops writing once it is closing."""
    c._flush()
    if c.transport is not None and not c.closing:
        c.transport.write(reply)
    c.close_after_reply()
    return b""


@command(
    "reset",
    1,
    "noscript loading stale fast no_auth allow_busy",
    (0, 0, 0),
    G,
    "Resets the connection.",
    "",
    since="6.2.0",
    example="RESET",
)
def reset(c, a):
    c.server.pubsub.drop(c)
    c.multi = None
    c.multi_failed = False
    c.watched.clear()
    c.proto = 2
    c.name = b""
    c.readonly = c.asking = c.cluster_aware = False
    c.authenticated = not c.server.node_config["requirepass"]
    tracking_off(c)
    return b"+RESET\r\n"


CLIENT = container("client", G, "A container for client connection commands.", since="2.4.0")


def client_info(c, me, running: str = "") -> str:
    """One CLIENT LIST line; the caller's own line names the command it is running
    (`running`), as Redis's does."""
    now = c.clock.ms
    omem = c.output_size()
    subs = c.server.pubsub.of(c)
    sub, psub, ssub = (
        (0, 0, 0) if subs is None else (len(subs.channels), len(subs.patterns), len(subs.shard))
    )
    # Redis's order: P x b t R B
    flags = ("P" if subs is not None else "") + ("x" if c.multi is not None else "")
    flags += "b" if c.blocked else ""
    t = c.tracking
    if t is not None:
        flags += "t" + ("R" if t.broken else "") + ("B" if t.bcast else "")
    return (
        f"id={c.id} addr={c.addr} laddr={c.laddr} fd=-1 name={c.name.decode('utf-8', 'replace')} "
        f"age={(now - c.created) // 1000} idle={(now - c.last_active) // 1000} flags={flags or 'N'} "
        f"db=0 sub={sub} psub={psub} ssub={ssub} "
        f"multi={len(c.multi) if c.multi is not None else -1} qbuf=0 qbuf-free=0 argv-mem=0 multi-mem=0 "
        f"rbs=0 rbp=0 obl=0 oll=0 omem={omem} tot-mem={omem} events=r cmd={running if c is me and running else c.last_command} user=default "
        f"redir={t.redirect if t is not None else -1} resp={c.proto} lib-name={c.lib_name.decode('utf-8', 'replace')} "
        f"lib-ver={c.lib_ver.decode('utf-8', 'replace')}\n"
    )


@command(
    "client|id",
    2,
    "noscript loading stale",
    (0, 0, 0),
    G,
    "Returns the unique client ID of the connection.",
    "",
    since="5.0.0",
    example="CLIENT ID",
)
def client_id(c, a):
    return integer(c.id)


@command(
    "client|setname",
    3,
    "noscript loading stale",
    (0, 0, 0),
    G,
    "Sets the connection name.",
    "connection-name",
    since="2.6.9",
    example="CLIENT SETNAME worker-1",
)
def client_setname(c, a):
    if not _valid_name(a[2]):
        raise RedisError("ERR Client names cannot contain spaces, newlines or special characters.")
    c.name = a[2]
    return OK


@command(
    "client|getname",
    2,
    "noscript loading stale",
    (0, 0, 0),
    G,
    "Returns the name of the connection.",
    "",
    since="2.6.9",
    example="CLIENT GETNAME",
)
def client_getname(c, a):
    return bulk(c.name) if c.name else encode(None, c.proto)


@command(
    "client|setinfo",
    4,
    "noscript loading stale",
    (0, 0, 0),
    G,
    "Sets information specific to the client or connection.",
    "LIB-NAME libname|LIB-VER libver",
    since="7.2.0",
    example="CLIENT SETINFO LIB-NAME mylib",
)
def client_setinfo(c, a):
    attr = a[2].upper()
    if attr not in (b"LIB-NAME", b"LIB-VER"):
        raise RedisError(f"ERR Unrecognized option '{a[2].decode('utf-8', 'replace')}'")
    if not all(33 <= ch <= 126 for ch in a[3]):
        raise RedisError(
            f"ERR {a[2].decode('utf-8', 'replace')} cannot contain spaces, newlines or special characters."
        )
    if attr == b"LIB-NAME":
        c.lib_name = a[3]
    else:
        c.lib_ver = a[3]
    return OK


@command(
    "client|info",
    2,
    "noscript loading stale",
    (0, 0, 0),
    G,
    "Returns information about the connection.",
    "",
    since="6.2.0",
    example="CLIENT INFO",
)
def client_info_cmd(c, a):
    return encode(Verbatim(client_info(c, c, "client|info")), c.proto)


@command(
    "client|list",
    -2,
    "admin noscript loading stale",
    (0, 0, 0),
    G,
    "Lists open connections.",
    "[TYPE NORMAL|MASTER|REPLICA|PUBSUB] [ID client-id:integer...]",
    since="2.4.0",
    complexity="O(N)",
    example="CLIENT LIST",
)
def client_list(c, a):
    clients = list(c.server.clients.values())
    if len(a) > 2:
        opt = a[2].upper()
        if opt == b"ID" and len(a) > 3:
            wanted = {to_int(x, "ERR Invalid client ID") for x in a[3:]}
            clients = [x for x in clients if x.id in wanted]
        elif opt == b"TYPE" and len(a) == 4:
            kind = a[3].lower()
            if kind not in (b"normal", b"master", b"replica", b"slave", b"pubsub"):
                raise RedisError(f"ERR Unknown client type '{a[3].decode('utf-8', 'replace')}'")
            if kind == b"pubsub":
                clients = [x for x in clients if x.pubsub_mode]
            else:
                clients = [x for x in clients if not x.pubsub_mode] if kind == b"normal" else []
        else:
            raise RedisError(SYNTAX)
    return encode(Verbatim("".join(client_info(x, c, "client|list") for x in clients)), c.proto)


@command(
    "client|kill",
    -3,
    "admin noscript loading stale",
    (0, 0, 0),
    G,
    "Terminates open connections.",
    "ip-port|(ID client-id:integer)|(ADDR ip-port)|(LADDR ip-port)|(SKIPME yes/no)",
    since="2.4.0",
    complexity="O(N)",
    example="CLIENT KILL ID 7",
)
def client_kill(c, a):
    clients = c.server.clients.values()
    if len(a) == 3:
        victims = [x for x in clients if x.addr == a[2].decode("utf-8", "replace")]
        if not victims:
            raise RedisError("ERR No such client")
        return _answer_and_close(c, OK) if _kill(c, victims) else OK
    if len(a) % 2:
        raise RedisError(SYNTAX)
    victims = list(clients)
    skipme = True
    for i in range(2, len(a), 2):
        opt, value = a[i].upper(), a[i + 1]
        if opt == b"ID":
            wanted = to_int(value, "ERR client-id should be greater than 0")
            if wanted < 1:
                raise RedisError("ERR client-id should be greater than 0")
            victims = [x for x in victims if x.id == wanted]
        elif opt == b"ADDR":
            victims = [x for x in victims if x.addr == value.decode("utf-8", "replace")]
        elif opt == b"LADDR":
            victims = [x for x in victims if x.laddr == value.decode("utf-8", "replace")]
        elif opt == b"TYPE":
            kind = value.lower()
            if kind not in (b"normal", b"master", b"replica", b"slave", b"pubsub"):
                raise RedisError(f"ERR Unknown client type '{value.decode('utf-8', 'replace')}'")
            if kind == b"pubsub":
                victims = [x for x in victims if x.pubsub_mode]
            elif kind == b"normal":
                victims = [x for x in victims if not x.pubsub_mode]
            else:  # no master or replica connections here
                victims = []
        elif opt == b"USER":
            if value != b"default":
                raise RedisError(f"ERR No such user '{value.decode('utf-8', 'replace')}'")
        elif opt == b"MAXAGE":
            age = to_int(value)
            now = c.clock.ms
            victims = [x for x in victims if (now - x.created) // 1000 >= age]
        elif opt == b"SKIPME":
            if value.lower() not in (b"yes", b"no"):
                raise RedisError(SYNTAX)
            skipme = value.lower() == b"yes"
        else:
            raise RedisError(SYNTAX)
    if skipme:
        victims = [x for x in victims if x is not c]
    reply = integer(len(victims))
    return _answer_and_close(c, reply) if _kill(c, victims) else reply


def _kill(c, victims) -> bool:
    """Close the victims' connections; True if the caller is one of them (the caller
    closes only after its reply)."""
    me = False
    for victim in victims:
        if victim is c:
            me = True
        elif victim.transport is not None:
            victim.closing = True
            victim.transport.close()
    return me


@command(
    "client|no-evict",
    3,
    "admin noscript loading stale",
    (0, 0, 0),
    G,
    "Sets the client eviction mode of the connection.",
    "ON|OFF",
    since="7.0.0",
    example="CLIENT NO-EVICT ON",
)
def client_no_evict(c, a):
    if a[2].upper() not in (b"ON", b"OFF"):
        raise RedisError(SYNTAX)
    return OK


@command(
    "client|no-touch",
    3,
    "noscript loading stale",
    (0, 0, 0),
    G,
    "Controls whether commands sent by the client affect the LRU/LFU of accessed keys.",
    "ON|OFF",
    since="7.2.0",
    example="CLIENT NO-TOUCH ON",
)
def client_no_touch(c, a):
    return client_no_evict(c, a)


def tracking_off(c) -> None:
    if c.tracking is not None:
        c.server.tracking.disable(c)
        c.server.listen()
        c._update_special()


@command(
    "client|tracking",
    -3,
    "noscript loading stale",
    (0, 0, 0),
    G,
    "Controls server-assisted client-side caching for the connection.",
    "ON|OFF [REDIRECT client-id:integer] [PREFIX prefix]... [BCAST] [OPTIN] [OPTOUT] [NOLOOP]",
    since="6.0.0",
    complexity="O(1). Some options may introduce additional complexity.",
    example="CLIENT TRACKING ON BCAST PREFIX user:",
)
def client_tracking(c, a):
    new = ClientTracking()
    prefixes: list[bytes] = []
    i = 3
    while i < len(a):
        opt = a[i].upper()
        more = i + 1 < len(a)
        if opt == b"REDIRECT" and more:
            i += 1
            if new.redirect:
                raise RedisError(TRACKING_ONE_REDIRECT)
            new.redirect = to_int(a[i])
            if new.redirect not in c.server.clients:
                raise RedisError(TRACKING_NO_REDIRECT_CLIENT)
        elif opt == b"BCAST":
            new.bcast = True
        elif opt == b"OPTIN":
            new.optin = True
        elif opt == b"OPTOUT":
            new.optout = True
        elif opt == b"NOLOOP":
            new.noloop = True
        elif opt == b"PREFIX" and more:
            i += 1
            prefixes.append(a[i])
        else:
            raise RedisError(SYNTAX)
        i += 1
    mode = a[2].upper()
    if mode == b"ON":
        c.server.tracking.enable(c, new, prefixes)
        c.server.listen()
        c._update_special()
    elif mode == b"OFF":
        tracking_off(c)
    else:
        raise RedisError(SYNTAX)
    return OK


@command(
    "client|caching",
    3,
    "noscript loading stale",
    (0, 0, 0),
    G,
    "Instructs the server whether to track the keys in the next request.",
    "YES|NO",
    since="6.0.0",
    example="CLIENT CACHING YES",
)
def client_caching(c, a):
    t = c.tracking
    if t is None:
        raise RedisError(CACHING_NOT_TRACKING)
    opt = a[2].upper()
    if opt == b"YES":
        if not t.optin:
            raise RedisError(CACHING_YES_NOT_OPTIN)
    elif opt == b"NO":
        if not t.optout:
            raise RedisError(CACHING_NO_NOT_OPTOUT)
    else:
        raise RedisError(SYNTAX)
    t.caching = True
    return OK


@command(
    "client|getredir",
    2,
    "noscript loading stale",
    (0, 0, 0),
    G,
    "Returns the client ID to which the connection's tracking notifications are redirected.",
    "",
    since="6.0.0",
    example="CLIENT GETREDIR",
)
def client_getredir(c, a):
    return integer(c.tracking.redirect if c.tracking is not None else -1)


@command(
    "client|trackinginfo",
    2,
    "noscript loading stale",
    (0, 0, 0),
    G,
    "Returns information about server-assisted client-side caching for the connection.",
    "",
    since="6.2.0",
    example="CLIENT TRACKINGINFO",
)
def client_trackinginfo(c, a):
    t = c.tracking
    flags = ["on", *t.flags()] if t is not None else ["off"]
    redirect = t.redirect if t is not None else -1
    prefixes = list(t.prefixes) if t is not None else []
    body = (
        b"$5\r\nflags\r\n"
        + (b"~%d\r\n" if c.proto == 3 else b"*%d\r\n") % len(flags)
        + b"".join(bulk(f.encode()) for f in flags)
        + b"$8\r\nredirect\r\n"
        + integer(redirect)
        + b"$8\r\nprefixes\r\n"
        + b"*%d\r\n" % len(prefixes)
        + b"".join(bulk(p) for p in prefixes)
    )
    return (b"%3\r\n" if c.proto == 3 else b"*6\r\n") + body


@command(
    "client|help",
    2,
    "loading stale",
    (0, 0, 0),
    G,
    "Returns helpful text about the different subcommands.",
    "",
    since="5.0.0",
    example="CLIENT HELP",
)
def client_help(c, a):
    return help_reply(c, CLIENT)
