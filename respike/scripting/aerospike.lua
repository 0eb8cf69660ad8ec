-- Aerospike's record UDF API, as its Lua modules (record, aerospike, list, map) present
-- it, for respike's AS.APPLY. Evaluated once per UDF runtime with `host`, the Python side
-- (see udf.py), as its argument; returns the table of globals a UDF module may use.
local host = ...

local api = {}
for _, name in ipairs({
  "assert", "error", "ipairs", "next", "pairs", "pcall", "rawequal", "rawget", "rawset",
  "select", "setmetatable", "getmetatable", "tonumber", "tostring", "type", "unpack", "xpcall",
}) do
  api[name] = _G[name]
end
for _, lib in ipairs({ "string", "table", "math" }) do
  local copy = {}
  for k, v in pairs(_G[lib]) do copy[k] = v end
  api[lib] = copy
end
api.string.dump = nil
api.os = { time = os.time, clock = os.clock, date = os.date }

-- list -----------------------------------------------------------------------------------

local List = {}
List.__index = List
List.__type = "list"

local function new_list(items)
  local l = {}
  for i, v in ipairs(items or {}) do l[i] = v end
  return setmetatable(l, List)
end

local list = setmetatable({}, { __call = function(_, items) return new_list(items) end })
function list.create(n) return new_list() end
function list.size(l) return #l end
function list.append(l, v) l[#l + 1] = v return l end
function list.prepend(l, v) table.insert(l, 1, v) return l end
function list.insert(l, i, v) table.insert(l, i, v) return l end
function list.remove(l, i) return table.remove(l, i) end
function list.take(l, n)
  local out = new_list()
  for i = 1, math.min(n, #l) do out[i] = l[i] end
  return out
end
function list.drop(l, n)
  local out = new_list()
  for i = n + 1, #l do out[#out + 1] = l[i] end
  return out
end
function list.clone(l) return new_list(l) end
function list.concat(l, other)
  for i = 1, #other do l[#l + 1] = other[i] end
  return l
end
function list.merge(l, other) return list.concat(list.clone(l), other) end
function list.trim(l, n)
  for i = #l, n, -1 do l[i] = nil end
  return l
end
function list.iterator(l)
  local i = 0
  return function()
    i = i + 1
    if i <= #l then return l[i] end
  end
end
List.__tostring = function(l)
  local parts = {}
  for i = 1, #l do parts[i] = tostring(l[i]) end
  return "List(" .. table.concat(parts, ", ") .. ")"
end
api.list = list

-- map ------------------------------------------------------------------------------------

local Map = {}
Map.__type = "map"

local function new_map(items)
  local m = {}
  for k, v in pairs(items or {}) do m[k] = v end
  return setmetatable(m, Map)
end

local map = setmetatable({}, { __call = function(_, items) return new_map(items) end })
function map.create(n) return new_map() end
function map.size(m)
  local n = 0
  for _ in pairs(m) do n = n + 1 end
  return n
end
function map.remove(m, k) m[k] = nil return m end
function map.clone(m) return new_map(m) end
function map.merge(m, other, resolve)
  local out = new_map(m)
  for k, v in pairs(other) do
    if out[k] ~= nil and resolve then out[k] = resolve(out[k], v) else out[k] = v end
  end
  return out
end
function map.diff(m, other)
  local out = new_map()
  for k, v in pairs(m) do if other[k] == nil then out[k] = v end end
  for k, v in pairs(other) do if m[k] == nil then out[k] = v end end
  return out
end
function map.pairs(m) return next, m, nil end
function map.keys(m)
  local k
  return function() k = next(m, k) return k end
end
function map.values(m)
  local k, v
  return function() k, v = next(m, k) return v end
end
function map.iterator(m) return map.pairs(m) end
Map.__tostring = function(m)
  local parts = {}
  for k, v in pairs(m) do parts[#parts + 1] = tostring(k) .. "=" .. tostring(v) end
  return "Map(" .. table.concat(parts, ", ") .. ")"
end
api.map = map

-- record ---------------------------------------------------------------------------------

-- A record is a table whose bins live on the Python side (the handle): rec['bin'] reads and
-- writes them there, so aerospike:update(rec) commits exactly what the UDF changed.
local handles = setmetatable({}, { __mode = "k" })
local Record = {
  __index = function(rec, bin) return host.get_bin(handles[rec], bin) end,
  __newindex = function(rec, bin, value) host.set_bin(handles[rec], bin, value) end,
}

local function handle(rec)
  local h = handles[rec]
  if h == nil then error("not a record", 3) end
  return h
end

local record = {}
for _, name in ipairs({
  "bin_names", "digest", "gen", "key", "last_update_time", "numbins", "setname", "ttl",
  "void_time", "set_ttl", "drop_key", "set_type",
}) do
  record[name] = function(rec, ...) return host.record_call(handle(rec), name, ...) end
end
api.record = record

local aerospike = {}
for _, name in ipairs({ "exists", "create", "update", "remove" }) do
  aerospike[name] = function(self, rec) return host.record_call(handle(rec), name) end
end
function aerospike:log(level, ...) host.log(level, select("#", ...) > 0 and string.format(...) or "") end
api.aerospike = aerospike

for level, name in ipairs({ "warn", "info", "debug", "trace" }) do
  api[name] = function(fmt, ...) host.log(level, string.format(fmt or "", ...)) end
end

-- What the Python side needs to build and read values.
local exports = {
  api = api,
  new_record = function(h)
    local rec = setmetatable({}, Record)
    handles[rec] = h
    return rec
  end,
  new_list = new_list,
  new_map = new_map,
  kind = function(v)
    local t = type(v)
    if t ~= "table" then return t end
    local mt = getmetatable(v)
    if mt == List then return "list" end
    if mt == Map then return "map" end
    if mt == Record then return "record" end
    return "table"
  end,
  -- Pairs of a map, or elements of a list, as a plain array the Python side can walk.
  items = function(v)
    local out, n = {}, 0
    if getmetatable(v) == List then
      for i = 1, #v do out[i] = v[i] end
      return out, #v
    end
    for k, x in pairs(v) do
      out[n + 1], out[n + 2] = k, x
      n = n + 2
    end
    return out, n
  end,
}
return exports
