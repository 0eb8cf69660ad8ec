-- Redis's Lua API for EVAL scripts and FUNCTION libraries, on PUC Lua 5.1 (lupa).
--
-- Loaded once per runtime with the Python host as its argument. Scripts run in an
-- environment whose globals are read-only (as Redis 7 makes _G read-only): reading a
-- global that does not exist and assigning any global are errors with Redis's texts.
-- The reply of a script is encoded to RESP here, in Lua, so a script's result crosses
-- into Python once, as bytes.

local host = ...
local pytick = host.tick
local G = _G
local dbg = debug
local type, rawget, rawset, setmetatable, error, tostring, select, pairs, next =
  type, rawget, rawset, setmetatable, error, tostring, select, pairs, next
local format, gsub, concat, floor = string.format, string.gsub, table.concat, math.floor
local PRELUDE = '=redis.lua'

-- --- read-only tables -----------------------------------------------------------------

local function readonly(t)
  return setmetatable({}, {
    __index = t,
    __newindex = function() error('Attempt to modify a readonly table', 2) end,
    __metatable = false,
  })
end

-- --- the redis table --------------------------------------------------------------------

-- redis.call and redis.pcall are the host's own (Python) functions, bound once by
-- `bind`: to Lua they are C functions, so `return redis.call(...)` keeps the script's
-- frame (and an error its line) as Redis's C redis.call does. An error of redis.call
-- arrives as the host's exception object and becomes Redis's {err=...} table wherever a
-- script could see it.
local function unbound() error('redis.call is only available while a script runs', 0) end
local as_error = host.as_error
local call_resp = 2  -- the protocol of redis.call's replies (redis.setresp), per run

local function lua_error(e)
  if type(e) == 'userdata' then return as_error(e) end
  return e
end

local function setresp(v)
  if v ~= 2 and v ~= 3 then error('RESP version must be 2 or 3.', 0) end
  call_resp = v
  host.setresp(v)
end

local function log(level, ...)
  if type(level) ~= 'number' then error('First argument must be a number (log level).', 0) end
  if level < 0 or level > 3 then error('Invalid debug level.', 0) end
  local n = select('#', ...)
  if n == 0 then error('redis.log() requires two arguments or more.', 0) end
  local parts = {}
  for i = 1, n do parts[i] = tostring((select(i, ...))) end
  host.log(level, concat(parts, ' '))
end

local function error_reply(e)
  if type(e) ~= 'string' then error('wrong number or type of arguments', 0) end
  if e:sub(1, 1) == '-' then e = e:sub(2) end
  return { err = e }
end

local function status_reply(s)
  if type(s) ~= 'string' then error('wrong number or type of arguments', 0) end
  return { ok = s }
end

local function sha1hex(s)
  if s == nil or select('#', s) ~= 1 then error('wrong number of arguments', 0) end
  return host.sha1hex(tostring(s))
end

local api = {
  call = unbound,
  pcall = unbound,
  setresp = setresp,
  log = log,
  error_reply = error_reply,
  status_reply = status_reply,
  sha1hex = sha1hex,
  set_repl = function(v)
    if type(v) ~= 'number' then error('wrong number or type of arguments', 0) end
  end,
  replicate_commands = function() return true end,
  breakpoint = function() return false end,
  debug = function() end,
  acl_check_cmd = function(name, ...)
    if type(name) ~= 'string' or not host.known(name) then
      error({ err = 'ERR Invalid command passed to redis.acl_check_cmd()' })
    end
    return true
  end,
  LOG_DEBUG = 0, LOG_VERBOSE = 1, LOG_NOTICE = 2, LOG_WARNING = 3,
  REPL_NONE = 0, REPL_AOF = 1, REPL_SLAVE = 2, REPL_REPLICA = 2, REPL_ALL = 3,
  REDIS_VERSION = host.version,
  REDIS_VERSION_NUM = host.version_num,
}

-- What a library's code may use while FUNCTION LOAD runs it (no commands yet).
local registered = nil  -- the functions of the library being loaded
local load_api = {
  log = log,
  setresp = setresp,
  LOG_DEBUG = 0, LOG_VERBOSE = 1, LOG_NOTICE = 2, LOG_WARNING = 3,
  REDIS_VERSION = host.version,
  REDIS_VERSION_NUM = host.version_num,
  register_function = function(a, b)
    local name, callback, flags, desc
    if type(a) == 'table' then
      for k, v in pairs(a) do
        if k == 'function_name' then name = v
        elseif k == 'callback' then callback = v
        elseif k == 'flags' then flags = v
        elseif k == 'description' then desc = v
        else error('unknown argument given to redis.register_function') end
      end
      if name == nil then error('redis.register_function must get a function name argument') end
      if callback == nil then error('redis.register_function must get a callback argument') end
    else
      if b == nil then error('wrong number of arguments to redis.register_function') end
      name, callback = a, b
    end
    if type(name) ~= 'string' then error('function_name argument given to redis.register_function must be a string') end
    if type(callback) ~= 'function' then error('callback argument given to redis.register_function must be a function') end
    if desc ~= nil and type(desc) ~= 'string' then error('description argument given to redis.register_function must be a string') end
    local fl = {}
    if flags ~= nil then
      if type(flags) ~= 'table' then error('flags argument to redis.register_function must be a table representing function flags') end
      for _, f in pairs(flags) do
        if type(f) ~= 'string' then error('unknown flag given') end
        fl[#fl + 1] = f
      end
    end
    registered[#registered + 1] = { name, callback, fl, desc }
  end,
}

-- --- sandboxed globals ------------------------------------------------------------------

local allowed = {
  'string', 'math', 'table', 'cjson', 'bit', 'cmsgpack', 'struct',
  'xpcall', 'tostring', 'getfenv', 'setmetatable', 'next', 'assert', 'tonumber',
  'rawequal', 'collectgarbage', 'getmetatable', 'rawset', 'pcall', 'coroutine', 'type',
  'select', 'unpack', 'gcinfo', 'pairs', 'rawget', 'ipairs', '_VERSION', 'setfenv',
  'error', 'newproxy',
}

local base = {}
for _, name in ipairs(allowed) do
  local v = rawget(G, name)
  if type(v) == 'table' then v = readonly(v) end
  base[name] = v
end
for name, lib in pairs(host.libraries) do base[name] = readonly(lib) end

local pcall0, xpcall0 = pcall, xpcall
local function fix(ok, ...)
  if ok then return ok, ... end
  return ok, lua_error((...))
end
base.pcall = function(f, ...) return fix(pcall0(f, ...)) end
base.xpcall = function(f, h)
  return xpcall0(f, function(e) return h(lua_error(e)) end)
end

-- loadstring / load of source only: Lua 5.1 would load bytecode, which can break out.
local function refuse_binary(chunk)
  if type(chunk) == 'string' and chunk:byte(1) == 27 then
    return true
  end
  return false
end
local loadstring_, load_ = loadstring, load
base.loadstring = function(s, name)
  if refuse_binary(s) then return nil, 'attempt to load a binary chunk' end
  local f, err = loadstring_(s, name)
  if f then setfenv(f, getfenv(2)) end
  return f, err
end
base.load = function(fn, name)
  local parts = {}
  if type(fn) == 'string' then parts[1] = fn
  else
    while true do
      local piece = fn()
      if piece == nil or piece == '' then break end
      parts[#parts + 1] = piece
    end
  end
  return base.loadstring(concat(parts), name)
end

-- getfenv(0) (or of a function with the runtime's own globals) would hand out the real
-- globals table: answer with the caller's sandbox instead.
local getfenv_ = getfenv
local function getfenv_safe(f)
  local env
  if f == nil then f = 1 end
  if type(f) == 'number' then
    env = getfenv_(f > 0 and f + 1 or 2)
    if f == 0 then env = getfenv_(2) end
  else
    env = getfenv_(f)
  end
  if env == G then env = getfenv_(2) end
  return env
end
base.getfenv = getfenv_safe

-- The globals of a script or library, read-only, with Redis's errors for a missing name
-- and for any assignment: the sandbox's base, `redis` (and `server`) and _G (the
-- environment itself). A name that exists is found by table lookups alone (the
-- environment's __index is a table holding them), so a script's `redis.call` costs no
-- Lua function call; only a missing name reaches a function, which asks `redis_of()`
-- (what `redis` is now, for libraries: FUNCTION LOAD's table while they load) or fails.
local function environment(redis_of)
  local env = {}
  local names = setmetatable({}, {
    __index = function(_, n)
      if n == 'redis' or n == 'server' then return redis_of() end
      error("Script attempted to access nonexistent global variable '" .. tostring(n) .. "'", 2)
    end,
    __metatable = false,
  })
  for k, v in pairs(base) do rawset(names, k, v) end
  rawset(names, '_G', env)
  setmetatable(env, {
    __index = names,
    __newindex = function() error('Attempt to modify a readonly table', 2) end,
    __metatable = false,
  })
  return env, names
end

-- A read-only table whose missing names are errors, as Redis's protected globals:
-- `lookup(name)` gives what the name holds (FUNCTION LOAD's redis table).
local function strict(lookup)
  return setmetatable({}, {
    __index = function(_, n)
      local v = lookup(n)
      if v == nil then
        error("Script attempted to access nonexistent global variable '" .. tostring(n) .. "'", 2)
      end
      return v
    end,
    __newindex = function() error('Attempt to modify a readonly table', 2) end,
    __metatable = false,
  })
end

local run_redis = readonly(api)
local eval_env, eval_names = environment(function() return run_redis end)
rawset(eval_names, 'redis', run_redis)  -- always the same for EVAL: found without a call
rawset(eval_names, 'server', run_redis)

-- --- errors -----------------------------------------------------------------------------

-- Redis's error handler: the error as a table {err=...} with the script line that raised
-- it (our own frames, as Redis's C functions, do not count).
local function handler(err)
  local i
  for level = 2, 20 do
    i = dbg.getinfo(level, 'nSl')
    if i == nil or (i.what ~= 'C' and i.source ~= PRELUDE) then break end
  end
  err = lua_error(err)
  if type(err) ~= 'table' then err = { err = 'ERR ' .. tostring(err) } end
  if i then
    rawset(err, 'source', i.source)
    rawset(err, 'line', i.currentline)
  end
  return err
end

local function clean(s) return (gsub(s, '[\r\n]', ' ')) end

local function error_text(e, name)
  local text = rawget(e, 'err')
  if type(text) ~= 'string' then text = 'ERR unknown error' end
  text = clean(text)
  local source, line = rawget(e, 'source'), rawget(e, 'line')
  if source ~= nil and line ~= nil then
    return format('%s script: %s, on %s:%s.', text, name, tostring(source), tostring(line))
  end
  return format('%s script: %s', text, name)
end

-- --- the reply, encoded -----------------------------------------------------------------

local NULL = { [2] = '$-1\r\n', [3] = '_\r\n' }

local function double(d)
  if d ~= d then return 'nan' end
  if d == 1 / 0 then return 'inf' end
  if d == -1 / 0 then return '-inf' end
  return format('%.17g', d)
end

local function bulk(s) return '$' .. #s .. '\r\n' .. s .. '\r\n' end

local encode

local function encode_table(v, out, proto)
  local e = rawget(v, 'err')
  if type(e) == 'string' then
    local text = clean(e)
    if text:sub(1, 1) == '-' then text = text:sub(2) end
    out[#out + 1] = '-' .. text .. '\r\n'
    return
  end
  local ok = rawget(v, 'ok')
  if type(ok) == 'string' then
    out[#out + 1] = '+' .. clean(ok) .. '\r\n'
    return
  end
  local d = rawget(v, 'double')
  if type(d) == 'number' then
    out[#out + 1] = proto == 3 and (',' .. double(d) .. '\r\n') or bulk(double(d))
    return
  end
  local big = rawget(v, 'big_number')
  if type(big) == 'string' then
    out[#out + 1] = proto == 3 and ('(' .. clean(big) .. '\r\n') or bulk(big)
    return
  end
  local map = rawget(v, 'map')
  if type(map) == 'table' then
    local at, n = #out + 1, 0
    out[at] = ''
    for k, val in pairs(map) do
      n = n + 1
      encode(k, out, proto)
      encode(val, out, proto)
    end
    out[at] = proto == 3 and ('%' .. n .. '\r\n') or ('*' .. (2 * n) .. '\r\n')
    return
  end
  local set = rawget(v, 'set')
  if type(set) == 'table' then
    local at, n = #out + 1, 0
    out[at] = ''
    for k in pairs(set) do
      n = n + 1
      encode(k, out, proto)
    end
    out[at] = (proto == 3 and '~' or '*') .. n .. '\r\n'
    return
  end
  local verb = rawget(v, 'verbatim_string')
  if type(verb) == 'table' then
    local s, f = rawget(verb, 'string'), rawget(verb, 'format')
    if type(s) == 'string' and type(f) == 'string' then
      out[#out + 1] = proto == 3 and ('=' .. (#s + 4) .. '\r\n' .. f .. ':' .. s .. '\r\n') or bulk(s)
      return
    end
  end
  local at, n = #out + 1, 0
  out[at] = ''
  while true do
    local item = v[n + 1]
    if item == nil then break end
    n = n + 1
    encode(item, out, proto)
  end
  out[at] = '*' .. n .. '\r\n'
end

encode = function(v, out, proto)
  local t = type(v)
  if t == 'string' then
    out[#out + 1] = bulk(v)
  elseif t == 'number' then
    out[#out + 1] = ':' .. format('%d', v) .. '\r\n'
  elseif t == 'table' then
    encode_table(v, out, proto)
  elseif t == 'boolean' then
    if call_resp == 2 then
      out[#out + 1] = v and ':1\r\n' or NULL[proto]
    elseif proto == 3 then
      out[#out + 1] = v and '#t\r\n' or '#f\r\n'
    else
      out[#out + 1] = v and ':1\r\n' or ':0\r\n'
    end
  else
    out[#out + 1] = NULL[proto]
  end
end

local function reply_of(v, proto)
  local t = type(v)
  if t == 'string' then return bulk(v) end
  if t == 'number' then return ':' .. format('%d', v) .. '\r\n' end
  local out = {}
  encode(v, out, proto)
  return concat(out)
end

-- --- running ----------------------------------------------------------------------------

-- KEYS and ARGV, new for every run (a script may change them).
local function tables(nkeys, ...)
  local n = select('#', ...)
  if nkeys == n then return { ... }, {} end
  if nkeys == 0 then return {}, { ... } end
  local all = { ... }
  local keys, argv = {}, {}
  for i = 1, nkeys do keys[i] = all[i] end
  for i = nkeys + 1, n do argv[i - nkeys] = all[i] end
  return keys, argv
end

-- What a run gives the host: a string or number result as itself (one value: the host
-- encodes it, much cheaper than building the reply string here, which formats a number
-- with sprintf and interns a new string), anything else as (true, its RESP reply); an
-- error as (false, its text).
local function result(ok, r, proto, name)
  if ok then
    local t = type(r)
    if t == 'string' or t == 'number' then return r end
    return true, reply_of(r, proto)
  end
  return false, error_text(type(r) == 'table' and r or { err = 'ERR ' .. tostring(r) }, name)
end

-- What runs an EVAL script: a closure over its compiled function and the name its
-- errors give (the sha), made once per script, so a run passes neither across (a string
-- pushed from the host is hashed and interned each time). It sets KEYS and ARGV, runs
-- the script and returns as `result` does.
local function script_runner(f, name)
  return function(proto, nkeys, ...)
    local keys, argv
    if nkeys == select('#', ...) then keys, argv = { ... }, {} else keys, argv = tables(nkeys, ...) end
    call_resp = 2
    rawset(eval_env, 'KEYS', keys)
    rawset(eval_env, 'ARGV', argv)
    local ok, r = xpcall(f, handler)
    if ok then
      local t = type(r)
      if t == 'string' or t == 'number' then return r end
    end
    return result(ok, r, proto, name)
  end
end

local function run_function(f, name, proto, nkeys, ...)
  local keys, argv = tables(nkeys, ...)
  call_resp = 2
  local ok, r = xpcall(function() return f(keys, argv) end, handler)
  return result(ok, r, proto, name)
end

-- Compile an EVAL body: its runner (see `script_runner`), or nil and the error.
local function compile_script(body, name)
  if refuse_binary(body) then return nil, 'user_script: cannot load a binary chunk' end
  local f, err = loadstring_(body, '@user_script')
  if f == nil then return nil, err end
  setfenv(f, eval_env)
  return script_runner(f, name), nil
end

-- Run a library's code to collect its functions: (true, {{name, fn, flags, desc}...}) or
-- (false, error text). The library gets an environment of its own (globals it defines
-- are its own); the redis table holds only what loading may use.
local function load_library(code)
  if refuse_binary(code) then return false, 'cannot load a binary chunk' end
  local nl = code:find('\n', 1, true)
  code = nl and code:sub(nl) or ''  -- the #! line stays as an empty one (line numbers)
  local f, err = loadstring_(code, '@user_function')
  if f == nil then return false, 'Error compiling function: ' .. tostring(err) end
  local load_redis = strict(function(n) return load_api[n] end)
  local loading = true
  local env = (environment(function() return loading and load_redis or run_redis end))
  setfenv(f, env)
  registered = {}
  local ok, e = xpcall(f, handler)
  local found = registered
  registered = nil
  loading = false
  if not ok then
    local text = type(e) == 'table' and rawget(e, 'err') or tostring(e)
    return false, 'Error registering functions: ' .. tostring(text)
  end
  return true, found
end

-- The count hook: every `every` instructions the host checks the time (and SCRIPT KILL);
-- once it says stop, the hook fires at every instruction of the script's own code so a
-- pcall cannot swallow it (this file's code, the error handler and the reply, runs on).
local function hook()
  local stop = pytick()
  if stop ~= nil then
    dbg.sethook(function()
      local i = dbg.getinfo(2, 'S')
      if i ~= nil and i.source ~= PRELUDE then error({ err = stop }) end
    end, '', 1)
    error({ err = stop })
  end
end

local function arm(every)
  dbg.sethook(hook, '', every)
end

-- The host's redis.call and redis.pcall (see `unbound`).
local function bind(call, pcall_)
  api.call, api.pcall = call, pcall_
end

local function disarm()
  dbg.sethook()
end

return {
  reply_of = reply_of,
  run_function = run_function,
  compile_script = compile_script,
  load_library = load_library,
  arm = arm,
  bind = bind,
  disarm = disarm,
}
