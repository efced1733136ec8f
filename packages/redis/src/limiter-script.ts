/**
 * The Lua scripts behind RedisLimiter. Each runs atomically inside Redis (no other command
 * interleaves), so one EVALSHA decides every limit of one request: all or nothing.
 *
 * LIMIT_SCRIPT
 *   KEYS[1] quota counter (string, integer units used in the period)
 *   KEYS[2] token bucket (hash: t = tokens, ts = last refill time in ms, both %.17g so they
 *           round-trip exactly as IEEE doubles: the arithmetic matches MemoryLimiter bit for bit)
 *   ARGV[1] cost (integer >= 0)
 *   ARGV[2] quota limit, or -1 for no quota
 *   ARGV[3] quota key TTL in ms (period end - caller's now + slack)
 *   ARGV[4] rate per second, or -1 for no rate limit
 *   ARGV[5] burst (bucket capacity)
 *   ARGV[6] bucket key TTL in ms (time to refill to full + slack: an expired bucket is a full one)
 *   ARGV[7] now override in ms for tests, or -1 to use the Redis server clock (TIME), so every
 *           gateway process sees one clock
 *   Returns { allowed (1|0), limitedBy ('quota'|'rate'|''), quota used before this request,
 *             tokens after (string, '' when no rate), now used for the bucket (string) }.
 *   Order: quota first, then rate; the counter is incremented only when both pass, and the bucket
 *   is debited only when both pass, so a request refused by one limit consumes none of the other.
 *   (On a rate refusal the bucket's refill is written back, which changes no outcome: refilling
 *   is a pure function of elapsed time. It keeps the float arithmetic identical to MemoryLimiter.)
 *
 * REFUND_SCRIPT
 *   KEYS[1] quota counter; ARGV[1] cost. Never below zero; never creates a key (a missing key
 *   has nothing to refund); keeps the TTL.
 */
export const LIMIT_SCRIPT = `
local cost = tonumber(ARGV[1])
local qlimit = tonumber(ARGV[2])
local qttl = tonumber(ARGV[3])
local rate = tonumber(ARGV[4])
local burst = tonumber(ARGV[5])
local bttl = tonumber(ARGV[6])
local now = tonumber(ARGV[7])
if now < 0 then
  local t = redis.call('TIME')
  now = tonumber(t[1]) * 1000 + tonumber(t[2]) / 1000
end
local function fmt(x) return string.format('%.17g', x) end

local used = 0
if qlimit >= 0 then
  used = tonumber(redis.call('GET', KEYS[1]) or '0')
  if used + cost > qlimit then
    return {0, 'quota', tostring(used), '', fmt(now)}
  end
end

local tokens = nil
if rate >= 0 then
  local b = redis.call('HMGET', KEYS[2], 't', 'ts')
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
    redis.call('HSET', KEYS[2], 't', fmt(tokens), 'ts', fmt(bnow))
    redis.call('PEXPIRE', KEYS[2], bttl)
    return {0, 'rate', tostring(used), fmt(tokens), fmt(now)}
  end
  tokens = tokens - cost
  redis.call('HSET', KEYS[2], 't', fmt(tokens), 'ts', fmt(bnow))
  redis.call('PEXPIRE', KEYS[2], bttl)
end

if qlimit >= 0 then
  redis.call('INCRBY', KEYS[1], cost)
  redis.call('PEXPIRE', KEYS[1], qttl)
end
if tokens == nil then
  return {1, '', tostring(used), '', fmt(now)}
end
return {1, '', tostring(used), fmt(tokens), fmt(now)}
`;

export const REFUND_SCRIPT = `
local v = redis.call('GET', KEYS[1])
if not v then return 0 end
local n = tonumber(v) - tonumber(ARGV[1])
if n < 0 then n = 0 end
redis.call('SET', KEYS[1], tostring(n), 'KEEPTTL')
return n
`;
