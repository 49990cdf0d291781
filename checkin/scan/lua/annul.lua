-- Annul one accepted scan: an 'annulled' entry on the stream (the scan itself is never changed), and
-- the volunteer's presence and the counters put back when the scan is still their latest accepted one.
-- KEYS: 1 meta, 2 presence, 3 counts, 4 stream, 5 marker (the annulment id, once per annulled scan)
-- ARGV: 1 annulled scan_id, 2 annulment id, 3 device id of the entry, 4 now ms, 5 operator,
--       6 verdict of the annulled scan, 7 volunteer id, 8 team, 9 zone, 10 senior ('1'/'0'),
--       11 the annulled scan's time (ms), 12 gate, 13 reason
-- Returns {'unloaded'} | {'again', annulment id} | {'ok', undo ('in', 'out' or ''), on_site}

if redis.call('EXISTS', KEYS[1]) == 0 then return {'unloaded'} end
if not redis.call('SET', KEYS[5], ARGV[2], 'NX') then return {'again', redis.call('GET', KEYS[5])} end

local vid, team, zone, senior = ARGV[7], ARGV[8], ARGV[9], ARGV[10] == '1'
local at = tonumber(ARGV[11])
local undo = ''
local last = ''  -- the volunteer's last scan once this one is undone, for the live view's 'missing' list
local raw = redis.call('HGET', KEYS[2], vid)
local p = raw and cjson.decode(raw) or nil
if p and ARGV[6] == 'checked_in' and p.on == 1 and p.cid == ARGV[1] then
  -- back to before the check-in: off site, the debounce running from the scan before it
  undo, zone, last = 'in', p.z or zone, p.pl or ''
  redis.call('HSET', KEYS[2], vid, cjson.encode({on = 0, last = p.pl, z = zone, dd = p.dd, dm = p.dm}))
elseif p and ARGV[6] == 'checked_out' and p.on == 0 and p.last == at and p.pcid then
  -- the session it closed is open again, its minutes taken off the day's
  undo, zone, last = 'out', p.z or zone, p.pl or ''
  local minutes = math.max(0, math.floor((at - (p.pcat or at)) / 60000))
  redis.call('HSET', KEYS[2], vid, cjson.encode({on = 1, last = p.pl, cid = p.pcid, cat = p.pcat, z = zone,
    dd = p.dd, dm = math.max(0, (p.dm or 0) - minutes)}))
end
if undo ~= '' then
  local step = undo == 'in' and -1 or 1
  redis.call('HINCRBY', KEYS[3], 'on_site', step)
  redis.call('HINCRBY', KEYS[3], 'zone:' .. zone, step)
  redis.call('HINCRBY', KEYS[3], 'team:' .. team, step)
  if senior then redis.call('HINCRBY', KEYS[3], 'senior', step) end
end
redis.call('HINCRBY', KEYS[3], 'annul_total', 1)
local seq = redis.call('HINCRBY', KEYS[1], 'opseq:' .. ARGV[3], 1)
redis.call('XADD', KEYS[4], '*',
  'scan_id', ARGV[2], 'dev', ARGV[3], 'seq', seq, 'gate', ARGV[12], 'zone', zone, 'card', '', 'vol', vid,
  'team', team, 'at', ARGV[4], 'dat', ARGV[4], 'rx', ARGV[4], 'verdict', 'annulled', 'reason', ARGV[13],
  'warn', '', 'closes', ARGV[1], 'src', 'annul', 'senior', senior and '1' or '0', 'op', ARGV[5], 'undo', undo, 'last', last)
return {'ok', undo, tonumber(redis.call('HGET', KEYS[3], 'on_site') or '0')}
