"""Every error respike can answer, defined once.

Two families: Aerospike result codes (what the engine and the cluster raise, answered as
`-NAME text (code)`), and Redis's error replies (exact texts that Redis clients match on).
"""

from __future__ import annotations

from enum import IntEnum


class ResultCode(IntEnum):
    """Aerospike server result codes (as/include/base/proto.h)."""

    OK = 0
    UNKNOWN = 1
    KEY_NOT_FOUND = 2
    GENERATION = 3
    PARAMETER = 4
    KEY_EXISTS = 5
    BIN_EXISTS = 6
    CLUSTER_KEY_MISMATCH = 7
    OUT_OF_SPACE = 8
    TIMEOUT = 9
    UNAVAILABLE = 11
    INCOMPATIBLE_TYPE = 12
    RECORD_TOO_BIG = 13
    KEY_BUSY = 14
    UNSUPPORTED = 16
    BIN_NOT_FOUND = 17
    DEVICE_OVERLOAD = 18
    NAMESPACE = 20
    BIN_NAME = 21
    FORBIDDEN = 22
    ELEMENT_NOT_FOUND = 23
    ELEMENT_EXISTS = 24
    OP_NOT_APPLICABLE = 26
    FILTERED_OUT = 27
    LOST_CONFLICT = 28
    UDF_BAD_RESPONSE = 100  # a record UDF failed: not registered, did not compile, raised


class RecordError(Exception):
    """An Aerospike-coded failure of a record operation; the record is left unchanged."""

    def __init__(self, code: ResultCode, text: str):
        super().__init__(text)
        self.code = code
        self.text = text

    def reply_text(self) -> str:
        return f"{self.code.name} {self.text} ({int(self.code)})"


class RedisError(Exception):
    """A Redis-style error reply; `text` is everything after the leading '-'."""

    def __init__(self, text: str):
        super().__init__(text)
        self.text = text


# Redis's exact texts (src/server.c, networking.c, object.c, t_string.c).
WRONGTYPE = "WRONGTYPE Operation against a key holding the wrong kind of value"
SYNTAX = "ERR syntax error"
NOT_INTEGER = "ERR value is not an integer or out of range"
NOT_FLOAT = "ERR value is not a valid float"
OVERFLOW = "ERR increment or decrement would overflow"
HASH_NOT_INTEGER = "ERR hash value is not an integer"
HASH_NOT_FLOAT = "ERR hash value is not a float"
NO_SUCH_KEY = "ERR no such key"
INDEX_OUT_OF_RANGE = "ERR index out of range"
DB_OUT_OF_RANGE = "ERR DB index is out of range"
EXECABORT = "EXECABORT Transaction discarded because of previous errors."
NESTED_MULTI = "ERR MULTI calls can not be nested"
EXEC_WITHOUT_MULTI = "ERR EXEC without MULTI"
DISCARD_WITHOUT_MULTI = "ERR DISCARD without MULTI"
WATCH_IN_MULTI = "ERR WATCH inside MULTI is not allowed"
NOAUTH = "NOAUTH Authentication required."
WRONGPASS = "WRONGPASS invalid username-password pair or user is disabled."
AUTH_NO_PASSWORD = (
    "ERR AUTH <password> called without any password configured for the default user. "
    "Are you sure your configuration is correct?"
)
NAN_OR_INFINITY = "ERR increment would produce NaN or Infinity"
STRING_TOO_LONG = "ERR string exceeds maximum allowed size (proto-max-bulk-len)"
OFFSET_OUT_OF_RANGE = "ERR offset is out of range"
MUST_BE_POSITIVE = "ERR value is out of range, must be positive"
NOT_SYMMETRIC_INT64 = (
    "ERR value is out of range, value must between -9223372036854775807 and 9223372036854775807"
)
CROSSSLOT = "CROSSSLOT Keys in request don't hash to the same slot"
CLUSTERDOWN = "CLUSTERDOWN The cluster is down"
CLUSTER_DISABLED = "ERR This instance has cluster support disabled"

# Scripting and functions (src/eval.c, function_lua.c, script.c).
NOSCRIPT = "NOSCRIPT No matching script. Please use EVAL."
NOTBUSY = "NOTBUSY No scripts in execution right now."
UNKILLABLE = (
    "UNKILLABLE Sorry the script already executed write commands against the dataset. You "
    "can either wait the script termination or kill the server in a hard way using the "
    "SHUTDOWN NOSAVE command."
)
NUMKEYS_TOO_MANY = "ERR Number of keys can't be greater than number of args"
NUMKEYS_NEGATIVE = "ERR Number of keys can't be negative"
SCRIPT_UNKNOWN_COMMAND = "ERR Unknown Redis command called from script"
SCRIPT_WRONG_ARITY = "ERR Wrong number of args calling Redis command from script"
SCRIPT_NOT_ALLOWED = "ERR This Redis command is not allowed from script"
SCRIPT_WRITE_READONLY = "ERR Write commands are not allowed from read-only scripts."
SCRIPT_NON_LOCAL_KEY = "ERR Script attempted to access a non local key in a cluster node script"
SCRIPT_NO_CLUSTER = "ERR Can not run script on cluster, 'no-cluster' flag is set."
FUNCTION_NOT_FOUND = "ERR Function not found"
FUNCTION_RO_WRITE = "ERR Can not execute a script with write flag using *_ro command."
LIBRARY_NOT_FOUND = "ERR Library not found"
SCRIPT_FLUSH_OPTION = "ERR SCRIPT FLUSH only support SYNC|ASYNC option"
SCRIPT_NO_DEBUGGER = "ERR respike has no Lua debugger (SCRIPT DEBUG YES|SYNC)"
SCRIPT_DEBUG_OPTION = "ERR Use SCRIPT DEBUG YES/SYNC/NO"
FUNCTION_FLUSH_OPTION = "ERR FUNCTION FLUSH only supports SYNC|ASYNC option"
LIBRARY_NAME_MISSING = "ERR library name argument was not given"
FUNCTION_RESTORE_POLICY = (
    "ERR Wrong restore policy given, value should be either FLUSH, APPEND or REPLACE."
)
FUNCTION_PAYLOAD_BAD = "ERR payload version or checksum are wrong"
SCRIPT_NESTED = "ERR a script cannot run another script"
FUNCTION_NONE_REGISTERED = "ERR No functions registered"
LIBRARY_METADATA_MISSING = "ERR Missing library metadata"
LIBRARY_NAME_NOT_GIVEN = "ERR Library name was not given"
FUNCTION_UNKNOWN_FLAG = "ERR Error registering functions: unknown flag given"
SCRIPT_KILLED = "ERR Script killed by user with SCRIPT KILL..."
SCRIPT_CALL_NO_ARGS = "ERR Please specify at least one argument for this redis lib call"
SCRIPT_CALL_BAD_ARG = "ERR Lua redis lib command arguments must be strings or integers"
SCRIPT_CALL_DEFERRED = "ERR This command cannot run inside a script on respike"
SCRIPT_CALL_NOT_RUNNING = "ERR redis.call is only available while a script runs"


def subscribed_only(name: str) -> str:
    """A RESP2 connection in subscribed mode ran a command other than these."""
    return (
        f"ERR Can't execute '{name}': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / "
        "RESET are allowed in this context"
    )


# Client-side caching (src/networking.c clientCommand, tracking.c).
TRACKING_PREFIX_NEEDS_BCAST = "ERR PREFIX option requires BCAST mode to be enabled"
TRACKING_BCAST_SWITCH = (
    "ERR You can't switch BCAST mode on/off before disabling tracking for this client, "
    "and then re-enabling it with a different mode."
)
TRACKING_OPT_WITH_BCAST = "ERR OPTIN and OPTOUT are not compatible with BCAST"
TRACKING_OPTIN_AND_OPTOUT = "ERR You can't specify both OPTIN mode and OPTOUT mode"
TRACKING_OPT_SWITCH = (
    "ERR You can't switch OPTIN/OPTOUT mode before disabling tracking for this client, "
    "and then re-enabling it with a different mode."
)
TRACKING_ONE_REDIRECT = "ERR A client can only redirect to a single other client"
TRACKING_NO_REDIRECT_CLIENT = "ERR The client ID you want redirect to does not exist"
CACHING_NOT_TRACKING = (
    "ERR CLIENT CACHING can be called only when the client is in tracking mode with OPTIN "
    "or OPTOUT mode enabled"
)
CACHING_YES_NOT_OPTIN = (
    "ERR CLIENT CACHING YES is only valid when tracking is enabled in OPTIN mode."
)
CACHING_NO_NOT_OPTOUT = (
    "ERR CLIENT CACHING NO is only valid when tracking is enabled in OPTOUT mode."
)


def prefix_overlap(prefix: str, other: str, provided: bool) -> str:
    """checkPrefixCollisionsOrReply: `other` already registered, or (`provided`) given in
    the same command."""
    where = "another provided prefix" if provided else "an existing prefix"
    return (
        f"ERR Prefix '{prefix}' overlaps with {where} '{other}'. "
        "Prefixes for a single client must not overlap."
    )


def busy_error(is_function: bool) -> str:
    what = "FUNCTION KILL" if is_function else "SCRIPT KILL"
    return f"BUSY Redis is busy running a script. You can only call {what} or SHUTDOWN NOSAVE."


def wrong_arity(name: str) -> str:
    return f"ERR wrong number of arguments for '{name}' command"


def unknown_command(name: bytes, args: list[bytes]) -> str:
    """Redis's processCommand text: args quoted until 128 characters are shown."""
    shown = ""
    for arg in args:
        if len(shown) >= 128:
            break
        shown += f"'{_show(arg, 128 - len(shown))}' "
    return f"ERR unknown command '{_show(name)}', with args beginning with: {shown}"


def unknown_subcommand(sub: bytes | str, cmd: str) -> str:
    return f"ERR unknown subcommand '{_show(sub)}'. Try {cmd.upper()} HELP."


def invalid_expire(cmd: str) -> str:
    return f"ERR invalid expire time in '{cmd}' command"


def _show(value: bytes | str, limit: int = 128) -> str:
    """Client text inside an error: truncated as Redis does, CR/LF turned into spaces."""
    if isinstance(value, bytes):
        value = value[:limit].decode("utf-8", "replace")
    else:
        value = value[:limit]
    return value.replace("\r", " ").replace("\n", " ")
