-- One scan, decided and applied atomically: the same rules as checkin/scan/rules.py `decide`.
-- KEYS: 1 meta, 2 roster, 3 revoked, 4 gates, 5 devices, 6 presence, 7 counts, 8 stream, 9 durable, 10 answer
-- ARGV: 1 scan_id, 2 device_id, 3 token_hash, 4 gate_id, 5 seq, 6 card_id, 7 card_reason,
--       8 online ('1': sent live, so the server clock wins on skew; '0': replayed from a journal),
--       9 device_at_ms, 10 received_ms, 11 warnings (comma separated), 12 mode override, 13 source,
--       14 max backlog, 15 answer ttl seconds, 16 operator (who scanned for the volunteer: '' for a card at a gate),
--       17 roster record (JSON) for a coordinator's scan of a volunteer without a working card ('' otherwise)
-- Returns {'auth', code} | {'busy'} | {'unloaded'} | {'ok', answer_json, durable_seq} (answer_json's fields: below)
--       | {'replay', answer_json, durable_seq} | {'refused', code, detail}: nothing written (rules.py refusals)

-- Redis lost the event (restart without persistence): refuse until it is rebuilt from Postgres,
-- rather than calling every device unknown.
if redis.call('EXISTS', KEYS[1]) == 0 then return {'unloaded'} end

local dev, refused = enrolled_device(KEYS[5], ARGV[2], ARGV[3])
if not dev then return {'auth', refused} end

local durable = redis.call('HGET', KEYS[9], ARGV[2]) or '0'
local previous = redis.call('GET', KEYS[10])
if previous then return {'replay', previous, durable} end
-- A token scans only at the gate its device was enrolled at (moving it is an audited act); a desk
-- person's synthetic device (any = 1) at every gate of the event.
if dev.g ~= ARGV[4] and dev.any ~= 1 then return {'refused', 'gate_not_enrolled', dev.g or ''} end
if redis.call('XLEN', KEYS[8]) >= tonumber(ARGV[14]) then return {'busy'} end

local meta = redis.call('HMGET', KEYS[1], 'status', 'debounce_s', 'insurance', 'shift_early_min',
  'shift_late_min', 'clock_skew_s', 'max_continuous_min', 'max_daily_min', 'senior_max_continuous_min',
  'senior_max_daily_min', 'day_offset_min', 'scan_from_ms', 'scan_until_ms', 'min_session_min', 'confirm_s')
local warnings = {}
for w in string.gmatch(ARGV[11], '[^,]+') do warnings[#warnings + 1] = w end
local at_s = ARGV[9]
if ARGV[8] == '1' and math.abs(tonumber(ARGV[9]) - tonumber(ARGV[10])) > tonumber(meta[6] or '120') * 1000 then
  at_s = ARGV[10]
  warnings[#warnings + 1] = 'clock_skew'
end
local at = tonumber(at_s)
-- rules.time_refusal: a time no journal can honestly hold is refused before anything is written
if at > tonumber(ARGV[10]) + tonumber(meta[6] or '120') * 1000 then return {'refused', 'scan_in_future', ''} end
if meta[12] and meta[13] and (at < tonumber(meta[12]) or at >= tonumber(meta[13])) then
  return {'refused', 'outside_event_dates', ''}
end
-- the service day for rest limits: days since 1970 at the event's UTC offset
local day = math.floor((at + tonumber(meta[11] or '0') * 60000) / 86400000)
local function stricter(general, older, is_senior)
  general, older = tonumber(general or '0'), tonumber(older or '0')
  if not is_senior or older <= 0 then return general end
  if general <= 0 then return older end
  return math.min(general, older)
end
local served = 0

local verdict, reason, minutes, closes = nil, '', -1, ''
local vid, name, team, zone, senior = '', '', '', '', false
local note = ''  -- a check-in's attention note
local gate = redis.call('HGET', KEYS[4], ARGV[4])
local mode = nil
if gate then
  gate = cjson.decode(gate)
  zone = gate.z
  mode = gate.m
  if ARGV[12] ~= '' and mode == 'auto' then mode = ARGV[12] end  -- rules.gate_mode
end

local presence = nil
if meta[1] ~= 'open' then
  verdict, reason = 'rejected', 'event_closed'
elseif not gate then
  verdict, reason = 'rejected', 'wrong_gate'
elseif ARGV[7] ~= '' then
  verdict, reason = 'rejected', ARGV[7]
elseif redis.call('SISMEMBER', KEYS[3], ARGV[6]) == 1 then
  verdict, reason = 'rejected', 'revoked'
else
  local raw = nil
  if ARGV[13] == 'manual' and (ARGV[17] or '') ~= '' then raw = ARGV[17] else raw = redis.call('HGET', KEYS[2], ARGV[6]) end
  if not raw then
    verdict, reason = 'rejected', 'not_on_roster'
  else
    local v = cjson.decode(raw)
    vid, name, team, senior = v.v, v.n, v.t, (v.o == 1)
    local insured = v.i0 ~= nil and v.i1 ~= nil and v.i0 <= at and at < v.i1
    local insurance = meta[3] or 'warn'
    if insurance ~= 'off' and not insured then
      if insurance == 'block' then
        verdict, reason = 'rejected', 'not_insured'
      else
        warnings[#warnings + 1] = 'not_insured'
      end
    end
    if not verdict then
      local p = redis.call('HGET', KEYS[6], vid)
      if p then presence = cjson.decode(p) else presence = {on = 0} end
      if presence.dd == day then served = presence.dm or 0 end
      local continuous = stricter(meta[7], meta[9], senior)
      local daily = stricter(meta[8], meta[10], senior)
      local debounce = tonumber(meta[2] or '60') * 1000
      if presence.last ~= nil and math.abs(at - presence.last) < debounce then
        verdict, reason = 'duplicate', 'debounce'
      elseif mode == 'entry' and presence.on == 1 then
        verdict, reason = 'duplicate', 'already_on_site'
      elseif mode == 'exit' and presence.on ~= 1 then
        verdict, reason = 'duplicate', 'not_on_site'
      elseif mode == 'auto' and presence.on == 1 and presence.cat ~= nil and tonumber(meta[14] or '0') > 0
          and at - presence.cat < tonumber(meta[14]) * 60000
          and (presence.cf == nil or at < presence.cf or at - presence.cf > tonumber(meta[15] or '30') * 1000) then
        -- rules.needs_confirming: an early check-out at an auto gate waits for a second scan
        verdict, reason = 'duplicate', 'confirm_checkout'
      elseif presence.on ~= 1 then
        verdict = 'checked_in'
        local early = tonumber(meta[4] or '60') * 60000
        local late = tonumber(meta[5] or '60') * 60000
        local inside = false
        for _, s in ipairs(v.s or {}) do
          if s[1] - early <= at and at <= s[2] + late then inside = true end
        end
        if not inside then warnings[#warnings + 1] = 'outside_shift' end
        -- the attention note (checkin/events/notes.py note_at): the noted shift the check-in falls in, else a
        local by_shift = v['as']
        if type(by_shift) == 'table' then
          for _, s in ipairs(v.s or {}) do
            if note == '' and by_shift[s[3]] and s[1] - early <= at and at <= s[2] + late then note = by_shift[s[3]] end
          end
        end
        if note == '' and type(v.a) == 'string' then note = v.a end
        if daily > 0 and served >= daily then warnings[#warnings + 1] = 'over_rest_limit' end
      else
        verdict = 'checked_out'
        minutes = math.max(0, math.floor((at - (presence.cat or at)) / 60000))
        closes = presence.cid or ''
        if (continuous > 0 and minutes > continuous) or (daily > 0 and served + minutes > daily) then
          warnings[#warnings + 1] = 'over_rest_limit'
        end
      end
    end
  end
end

local warn = table.concat(warnings, ',')
local on_site = nil
if verdict == 'checked_in' then
  -- dd/dm: minutes already served on the service day; pl: the accepted scan before (for an undo)
  redis.call('HSET', KEYS[6], vid, cjson.encode({on = 1, last = at, cid = ARGV[1], cat = at, z = zone,
    dd = day, dm = served, pl = presence.last}))
  on_site = redis.call('HINCRBY', KEYS[7], 'on_site', 1)
  redis.call('HINCRBY', KEYS[7], 'in_total', 1)
  redis.call('HINCRBY', KEYS[7], 'zone:' .. zone, 1)
  redis.call('HINCRBY', KEYS[7], 'team:' .. team, 1)
  if senior then redis.call('HINCRBY', KEYS[7], 'senior', 1) end
elseif verdict == 'checked_out' then
  zone = presence.z or zone
  -- pcid/pcat/pl: the session this closes, so an undo of the check-out can reopen it
  redis.call('HSET', KEYS[6], vid, cjson.encode({on = 0, last = at, z = zone, dd = day, dm = served + minutes,
    pcid = presence.cid, pcat = presence.cat, pl = presence.last}))
  on_site = redis.call('HINCRBY', KEYS[7], 'on_site', -1)
  redis.call('HINCRBY', KEYS[7], 'out_total', 1)
  redis.call('HINCRBY', KEYS[7], 'zone:' .. zone, -1)
  redis.call('HINCRBY', KEYS[7], 'team:' .. team, -1)
  if senior then redis.call('HINCRBY', KEYS[7], 'senior', -1) end
elseif verdict == 'duplicate' then
  if reason == 'confirm_checkout' then  -- the next scan within confirm_s checks out
    presence.cf = at
    redis.call('HSET', KEYS[6], vid, cjson.encode(presence))
  end
  redis.call('HINCRBY', KEYS[7], 'dup_total', 1)
else
  redis.call('HINCRBY', KEYS[7], 'rej_total', 1)
end
-- Today's figures, durable (the stream is trimmed): per hour of service time, whose whole days are the office's
-- service days, and per gate per service day; the Python twin and the fields' names are in checkin/day_counts.py.
local hour = math.floor((at + tonumber(redis.call('HGET', KEYS[1], 'svc_off_ms') or '0')) / 3600000)
local tag = 'rej'
if verdict == 'checked_in' then tag = 'in' elseif verdict == 'checked_out' then tag = 'out'
elseif verdict == 'duplicate' then tag = 'dup' end
redis.call('HINCRBY', KEYS[7], tag .. '@' .. hour, 1)
if reason ~= 'wrong_gate' then
  local at_gate = '@' .. math.floor(hour / 24) .. ':' .. ARGV[4]
  if tag == 'in' or tag == 'out' then redis.call('HINCRBY', KEYS[7], 'g' .. tag .. at_gate, 1) end
  if at > tonumber(redis.call('HGET', KEYS[7], 'gat' .. at_gate) or '0') then
    redis.call('HSET', KEYS[7], 'gat' .. at_gate, at_s)
  end
end
on_site = on_site or tonumber(redis.call('HGET', KEYS[7], 'on_site') or '0')

redis.call('XADD', KEYS[8], '*',
  'scan_id', ARGV[1], 'dev', ARGV[2], 'seq', ARGV[5], 'gate', ARGV[4], 'zone', zone,
  'card', ARGV[6], 'vol', vid, 'team', team, 'at', at_s, 'dat', ARGV[9], 'rx', ARGV[10],
  'verdict', verdict, 'reason', reason, 'warn', warn, 'closes', closes, 'src', ARGV[13],
  'senior', senior and '1' or '0', 'op', ARGV[16] or '')

-- After the nine fields a client sees: what an annulment needs to reverse this scan (device, zone, senior);
-- then, for a duplicate, the volunteer's last accepted scan (ms, -1 for none) and whether it was a check-in,
-- so the gate can say what the scan duplicates; last, a check-in's attention note ('' for none).
local last, last_in = -1, 0
if verdict == 'duplicate' and presence and presence.last ~= nil then
  last, last_in = presence.last, presence.on == 1 and 1 or 0
end
local answer = cjson.encode({verdict, reason, warn, vid, name, team, minutes, on_site, at_s, ARGV[2], zone,
  senior and 1 or 0, last, last_in, note})
redis.call('SET', KEYS[10], answer, 'EX', tonumber(ARGV[15]))
return {'ok', answer, durable}
