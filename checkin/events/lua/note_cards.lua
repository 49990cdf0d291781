-- Cards whose gate copy changed (revoked, joined or left the roster, record changed): a new version of the
-- event's copy, each card marked with it, so every kiosk's next delta carries them. Before any kiosk took
-- a copy (no epoch yet) there is nobody to tell: a first copy is always whole.
-- KEYS: 1 gate copy hash, 2 changes (sorted set)   ARGV: card ids
if redis.call('HEXISTS', KEYS[1], 'epoch') == 0 then return 0 end
local version = redis.call('HINCRBY', KEYS[1], 'version', 1)
for _, card in ipairs(ARGV) do redis.call('ZADD', KEYS[2], version, card) end
return version
