/**
 * The Lua script behind RedisLeaseStore: one call of LeaseStore.run, all its ops in order, as one
 * atomic step of Redis. It is MemoryLeaseStore (core) step for step, with the same float
 * arithmetic: every number is stored and returned as %.17g, which round-trips an IEEE double
 * exactly, so the contract test can require identical replies and state.
 *
 * ARGV[1] now override in ms, or '' for the Redis server clock (TIME, read once per call)
 * ARGV[2] holder
 * ARGV[3] quota divisor, ARGV[4] rate divisor, ARGV[5] reclaim hold in ms (the LeasePolicy)
 * ARGV[6] notice channel
 * then per op, its kind letter and its fields (a cursor walks them):
 *   'd' decide:       cost, mayWait (1|0), limit (-1: no quota), periodId, quota key TTL,
 *                     perSecond (-1: no rate), burst, bucket key TTL, subject   KEYS: q, l, b
 *   'q' quota-lease:  lease id, granted, used, close (1|0), want, limit, periodId, quota key TTL,
 *                     lease TTL, window, subject                                 KEYS: q, l
 *   'r' rate-lease:   keep, ret, want, perSecond, burst, bucket key TTL, share TTL   KEYS: b
 * Keys: q the quota counter (a string: units reserved in the period, the same key RedisLimiter
 * counts in); l the period's lease record, a hash: 'h'..holder..' '..lease = "G U W exp" per
 * lease, 'ru' reclaim hold until, 'ff' forfeited units, 'ex' expiries, and 'ne', a lower bound of
 * the earliest lease expiry (absent: no lease), so that a decision scans the leases only when one
 * may have expired; b the token bucket, a hash: t, ts, lz = sum of live shares, le = earliest
 * share expiry, 's'..holder = "claim exp".
 * Returns 4 strings per op: decide: outcome, used, tokens or '', ''; quota-lease: granted, used,
 * expired (1|0), returned; rate-lease: granted, kept, tokens, ''.
 *
 * Units and claims are sums of integer costs and grants, so summing them in HGETALL's order (not
 * the model's insertion order) gives the same doubles. The bucket key lives at least as long as
 * any share in it (TTL max(bucket TTL, share TTL) when a share is written): a bucket that expired
 * with live shares would come back full and let `t + lz` exceed the burst.
 */
export const LEASE_SCRIPT = `
local function fmt(x) return string.format('%.17g', x) end
local now = tonumber(ARGV[1])
if now == nil then
  local t = redis.call('TIME')
  now = tonumber(t[1]) * 1000 + tonumber(t[2]) / 1000
end
local holder = ARGV[2]
local qdiv = tonumber(ARGV[3])
local rdiv = tonumber(ARGV[4])
local holdMs = tonumber(ARGV[5])
local channel = ARGV[6]
local sfield = 's' .. holder

local function claimOf(v)
  local sp = string.find(v, ' ', 1, true)
  return tonumber(string.sub(v, 1, sp - 1)), tonumber(string.sub(v, sp + 1))
end

local function setCounter(qkey, used, qttl)
  redis.call('SET', qkey, fmt(used), 'PX', qttl)
end

-- "G U W exp" of one lease.
local function leaseOf(v)
  local a1 = string.find(v, ' ', 1, true)
  local a2 = string.find(v, ' ', a1 + 1, true)
  local a3 = string.find(v, ' ', a2 + 1, true)
  return tonumber(string.sub(v, 1, a1 - 1)), tonumber(string.sub(v, a1 + 1, a2 - 1)),
    tonumber(string.sub(v, a2 + 1, a3 - 1)), tonumber(string.sub(v, a3 + 1))
end

local function leaseVal(g, u, w, e)
  return fmt(g) .. ' ' .. fmt(u) .. ' ' .. fmt(w) .. ' ' .. fmt(e)
end

-- Writes one lease and keeps 'ne' at or below the earliest expiry.
local function putLease(lkey, field, g, u, w, e, ne, qttl)
  if ne == nil or e < ne then
    redis.call('HSET', lkey, field, leaseVal(g, u, w, e), 'ne', fmt(e))
  else
    redis.call('HSET', lkey, field, leaseVal(g, u, w, e))
  end
  redis.call('PEXPIRE', lkey, qttl)
end

-- Expires the period's leases past their expiry: each gives back what it never reported used,
-- less its window. Returns the record's 'ne' afterwards (nil: no lease left).
local function expire(qkey, lkey, qttl)
  local ne = tonumber(redis.call('HGET', lkey, 'ne'))
  if ne == nil or now < ne then return ne end
  local all = redis.call('HGETALL', lkey)
  local back, kept, n, nextExp, ff, ex = 0, 0, 0, nil, 0, 0
  for i = 1, #all, 2 do
    local f = all[i]
    if string.byte(f, 1) == 104 then
      local g, u, w, e = leaseOf(all[i + 1])
      if e <= now then
        redis.call('HDEL', lkey, f)
        local unused = g - u
        local k = math.min(w, unused)
        back = back + unused - k
        kept = kept + k
        n = n + 1
      elseif nextExp == nil or e < nextExp then
        nextExp = e
      end
    elseif f == 'ff' then
      ff = tonumber(all[i + 1])
    elseif f == 'ex' then
      ex = tonumber(all[i + 1])
    end
  end
  if n > 0 then redis.call('HSET', lkey, 'ff', fmt(ff + kept), 'ex', fmt(ex + n)) end
  if nextExp == nil then redis.call('HDEL', lkey, 'ne') else redis.call('HSET', lkey, 'ne', fmt(nextExp)) end
  if back > 0 then
    local used = tonumber(redis.call('GET', qkey) or '0')
    setCounter(qkey, math.max(0, used - back), qttl)
  end
  return nextExp
end

-- Units granted and not reported used in other holders' leases (all live: expire ran first).
local function othersClaims(lkey)
  local all = redis.call('HGETALL', lkey)
  local mine = 'h' .. holder .. ' '
  local others = 0
  for i = 1, #all, 2 do
    local f = all[i]
    if string.byte(f, 1) == 104 and string.sub(f, 1, #mine) ~= mine then
      local g, u = leaseOf(all[i + 1])
      others = others + g - u
    end
  end
  return others
end

-- Reads a bucket with its expired shares dropped, refilled to now.
local function refill(bkey, rate, burst)
  local b = redis.call('HMGET', bkey, 't', 'ts', 'lz', 'le')
  local t0 = tonumber(b[1])
  local ts = tonumber(b[2])
  local lz = tonumber(b[3]) or 0
  local le = tonumber(b[4]) or 0
  if lz > 0 and now >= le then
    lz = 0
    le = 0
    local all = redis.call('HGETALL', bkey)
    for i = 1, #all, 2 do
      local f = all[i]
      if string.byte(f, 1) == 115 then
        local c, e = claimOf(all[i + 1])
        if e <= now then
          redis.call('HDEL', bkey, f)
        else
          lz = lz + c
          if le == 0 or e < le then le = e end
        end
      end
    end
  end
  if t0 == nil or ts == nil then
    t0 = burst - lz
    ts = now
  end
  local bnow = now
  if bnow < ts then bnow = ts end
  return math.min(burst - lz, t0 + ((bnow - ts) / 1000) * rate), bnow, lz, le
end

local function saveBucket(bkey, tokens, bnow, lz, le, ttl)
  redis.call('HSET', bkey, 't', fmt(tokens), 'ts', fmt(bnow), 'lz', fmt(lz), 'le', fmt(le))
  redis.call('PEXPIRE', bkey, ttl)
end

local out = {}
local o = 0
local function put(a, b, c, d)
  out[o + 1] = a; out[o + 2] = b; out[o + 3] = c; out[o + 4] = d
  o = o + 4
end

local a = 7
local k = 1
while a <= #ARGV do
  local kind = ARGV[a]
  if kind == 'd' then
    local qkey, lkey, bkey = KEYS[k], KEYS[k + 1], KEYS[k + 2]
    k = k + 3
    local cost = tonumber(ARGV[a + 1])
    local mayWait = ARGV[a + 2] == '1'
    local limit = tonumber(ARGV[a + 3])
    local periodId = ARGV[a + 4]
    local qttl = tonumber(ARGV[a + 5])
    local rate = tonumber(ARGV[a + 6])
    local burst = tonumber(ARGV[a + 7])
    local bttl = tonumber(ARGV[a + 8])
    local subject = ARGV[a + 9]
    a = a + 10
    local used = 0
    local done = false
    if limit >= 0 then
      expire(qkey, lkey, qttl)
      used = tonumber(redis.call('GET', qkey) or '0')
      if used + cost > limit then
        done = true
        if mayWait and othersClaims(lkey) > 0 then
          redis.call('HSET', lkey, 'ru', fmt(now + holdMs))
          redis.call('PEXPIRE', lkey, qttl)
          redis.call('PUBLISH', channel, 'reclaim:' .. periodId .. ':' .. subject)
          put('wait', fmt(used), '', '')
        else
          put('quota', fmt(used), '', '')
        end
      end
    end
    local tokens = ''
    if not done and rate >= 0 then
      local tok, bnow, lz, le = refill(bkey, rate, burst)
      if tok < cost then
        saveBucket(bkey, tok, bnow, lz, le, bttl)
        put('rate', fmt(used), fmt(tok), '')
        done = true
      else
        saveBucket(bkey, tok - cost, bnow, lz, le, bttl)
        tokens = fmt(tok - cost)
      end
    end
    if not done then
      if limit >= 0 then
        setCounter(qkey, used + cost, qttl)
      end
      put('allowed', fmt(used), tokens, '')
    end
  elseif kind == 'q' then
    local qkey, lkey = KEYS[k], KEYS[k + 1]
    k = k + 2
    local field = 'h' .. holder .. ' ' .. ARGV[a + 1]
    local seen = tonumber(ARGV[a + 2])
    local reportedUsed = tonumber(ARGV[a + 3])
    local close = ARGV[a + 4] == '1'
    local want = tonumber(ARGV[a + 5])
    local limit = tonumber(ARGV[a + 6])
    local periodId = ARGV[a + 7]
    local qttl = tonumber(ARGV[a + 8])
    local leaseTtl = tonumber(ARGV[a + 9])
    local window = tonumber(ARGV[a + 10])
    local subject = ARGV[a + 11]
    a = a + 12
    local ne = expire(qkey, lkey, qttl)
    local used = tonumber(redis.call('GET', qkey) or '0')
    local rec = redis.call('HMGET', lkey, field, 'ru')
    local hold = tonumber(rec[2]) or 0
    if not rec[1] and (seen > 0 or close) then
      if seen > 0 then put('0', fmt(used), '1', '0') else put('0', fmt(used), '0', '0') end
    else
      local g, u, w, e
      local closed = false
      if rec[1] then
        g, u, w, e = leaseOf(rec[1])
        local reported = math.min(reportedUsed, g)
        if reported > u then u = reported end
        if close then
          local returned = g - u
          redis.call('HDEL', lkey, field)
          used = math.max(0, used - returned)
          setCounter(qkey, used, qttl)
          if hold > now then
            redis.call('PUBLISH', channel, 'returned:' .. periodId .. ':' .. subject)
          end
          put('0', fmt(used), '0', fmt(returned))
          closed = true
        end
      end
      if not closed then
        local granted = 0
        if want > 0 and hold <= now then
          granted = math.floor((limit - used) / qdiv)
          if granted > want then granted = want end
          if granted < 0 then granted = 0 end
        end
        if granted > 0 then
          used = used + granted
          setCounter(qkey, used, qttl)
        end
        if rec[1] then
          putLease(lkey, field, g + granted, u, window, now + leaseTtl, ne, qttl)
        elseif granted > 0 then
          putLease(lkey, field, granted, 0, window, now + leaseTtl, ne, qttl)
        end
        put(fmt(granted), fmt(used), '0', '0')
      end
    end
  elseif kind == 'r' then
    local bkey = KEYS[k]
    k = k + 1
    local keep = tonumber(ARGV[a + 1])
    local ret = tonumber(ARGV[a + 2])
    local want = tonumber(ARGV[a + 3])
    local rate = tonumber(ARGV[a + 4])
    local burst = tonumber(ARGV[a + 5])
    local bttl = tonumber(ARGV[a + 6])
    local shareTtl = tonumber(ARGV[a + 7])
    a = a + 8
    local tok, bnow, lz, le = refill(bkey, rate, burst)
    local sv = redis.call('HGET', bkey, sfield)
    local old = 0
    if sv then old = claimOf(sv) end
    local kept = math.min(keep, old)
    ret = math.min(ret, old - kept)
    lz = lz - old
    local tokens = tok + ret
    local granted = 0
    if want > 0 then
      granted = math.floor(tokens / rdiv)
      if granted > want then granted = want end
      if granted < 0 then granted = 0 end
    end
    tokens = tokens - granted
    local claim = kept + granted
    if claim > 0 then
      local exp = now + shareTtl
      redis.call('HSET', bkey, sfield, fmt(claim) .. ' ' .. fmt(exp))
      if lz == 0 or exp < le then le = exp end
    elseif sv then
      redis.call('HDEL', bkey, sfield)
    end
    lz = lz + claim
    if lz == 0 then le = 0 end
    saveBucket(bkey, tokens, bnow, lz, le, math.max(bttl, math.ceil(shareTtl)))
    put(fmt(granted), fmt(kept), fmt(tokens), '')
  else
    return redis.error_reply('lease script: unknown op ' .. tostring(kind))
  end
end
return out
`;
