/**
 * The Lua scripts behind RedisLimiter. Each runs atomically inside Redis (no other command
 * interleaves), so one EVALSHA decides every limit of a request: all or nothing.
 *
 * LIMIT_BATCH_SCRIPT decides a batch of n requests (n >= 1) in order, each one exactly as if it
 * had its own script call: the gateway gathers the checks of one event-loop turn into one call,
 * so n requests cost one round trip and one socket write instead of n.
 *   KEYS[2i+1] quota counter of request i (string, integer units used in the period)
 *   KEYS[2i+2] token bucket of request i (hash: t = tokens, ts = last refill time in ms, both
 *              %.17g so they round-trip exactly as IEEE doubles: the arithmetic matches
 *              MemoryLimiter bit for bit)
 *   ARGV[7i+1] cost (integer >= 0)
 *   ARGV[7i+2] quota limit, or -1 for no quota
 *   ARGV[7i+3] quota key TTL in ms (period end - caller's now + slack)
 *   ARGV[7i+4] rate per second, or -1 for no rate limit
 *   ARGV[7i+5] burst (bucket capacity)
 *   ARGV[7i+6] bucket key TTL in ms (time to refill to full + slack: an expired bucket is a full one)
 *   ARGV[7i+7] now override in ms for tests, or -1 to use the Redis server clock (TIME, read once
 *              per call), so every gateway process sees one clock
 *   Returns 5 values per request, flattened: allowed (1|0), limitedBy ('quota'|'rate'|''), quota
 *   used before this request, tokens after (string, '' when no rate), now used for the bucket.
 *   Order per request: quota first, then rate; the counter is incremented only when both pass,
 *   and the bucket is debited only when both pass, so a request refused by one limit consumes
 *   none of the other. (On a rate refusal the bucket's refill is written back, which changes no
 *   outcome: refilling is a pure function of elapsed time. It keeps the float arithmetic
 *   identical to MemoryLimiter.)
 *
 * REFUND_SCRIPT
 *   KEYS[1] quota counter; ARGV[1] cost. Never below zero; never creates a key (a missing key
 *   has nothing to refund); keeps the TTL.
 */
export const LIMIT_BATCH_SCRIPT = `
local function fmt(x) return string.format('%.17g', x) end
local serverNow = nil
local out = {}
local o = 0
local function put(a, b, c, d, e)
  out[o + 1] = a; out[o + 2] = b; out[o + 3] = c; out[o + 4] = d; out[o + 5] = e
  o = o + 5
end

for i = 0, #KEYS / 2 - 1 do
  local qkey = KEYS[2 * i + 1]
  local bkey = KEYS[2 * i + 2]
  local a = 7 * i
  local cost = tonumber(ARGV[a + 1])
  local qlimit = tonumber(ARGV[a + 2])
  local qttl = tonumber(ARGV[a + 3])
  local rate = tonumber(ARGV[a + 4])
  local burst = tonumber(ARGV[a + 5])
  local bttl = tonumber(ARGV[a + 6])
  local now = tonumber(ARGV[a + 7])
  if now < 0 then
    if serverNow == nil then
      local t = redis.call('TIME')
      serverNow = tonumber(t[1]) * 1000 + tonumber(t[2]) / 1000
    end
    now = serverNow
  end

  local used = 0
  local refused = false
  if qlimit >= 0 then
    used = tonumber(redis.call('GET', qkey) or '0')
    if used + cost > qlimit then
      put(0, 'quota', tostring(used), '', fmt(now))
      refused = true
    end
  end

  local tokens = nil
  if not refused and rate >= 0 then
    local b = redis.call('HMGET', bkey, 't', 'ts')
    local t0 = tonumber(b[1])
    local ts = tonumber(b[2])
    if t0 == nil or ts == nil then
      t0 = burst
      ts = now
    end
    local bnow = now
    if bnow < ts then bnow = ts end
    tokens = math.min(burst, t0 + ((bnow - ts) / 1000) * rate)
    if tokens < cost then
      redis.call('HSET', bkey, 't', fmt(tokens), 'ts', fmt(bnow))
      redis.call('PEXPIRE', bkey, bttl)
      put(0, 'rate', tostring(used), fmt(tokens), fmt(now))
      refused = true
    else
      tokens = tokens - cost
      redis.call('HSET', bkey, 't', fmt(tokens), 'ts', fmt(bnow))
      redis.call('PEXPIRE', bkey, bttl)
    end
  end

  if not refused then
    if qlimit >= 0 then
      redis.call('INCRBY', qkey, cost)
      redis.call('PEXPIRE', qkey, qttl)
    end
    if tokens == nil then
      put(1, '', tostring(used), '', fmt(now))
    else
      put(1, '', tostring(used), fmt(tokens), fmt(now))
    end
  end
end
return out
`;

export const REFUND_SCRIPT = `
local v = redis.call('GET', KEYS[1])
if not v then return 0 end
local n = tonumber(v) - tonumber(ARGV[1])
if n < 0 then n = 0 end
redis.call('SET', KEYS[1], tostring(n), 'KEEPTTL')
return n
`;
