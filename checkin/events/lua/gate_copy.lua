-- One kiosk's gate copy of its event: where its history stands (epoch, card version, stream position) and
-- what changed since its cursor. Cards change by version (note_cards.lua); presence changes are found in the
-- scan stream after the cursor's entry, unless trimming may have dropped some. A part that must come whole
-- is not read here: the caller scans it in chunks afterwards (a 20,000-card event in one script would hold
-- Redis, and every gate's scans, for tens of milliseconds), and anything changed meanwhile comes again in
-- the next delta, since this version and stream position were taken first.
-- KEYS: 1 meta, 2 roster, 3 revoked, 4 gates, 5 presence, 6 stream, 7 gate copy hash, 8 changes, 9 devices
-- ARGV: 1 cursor epoch ('' for a first copy), 2 cursor version, 3 cursor stream id, 4 most stream entries a
--       delta reads, 5 a fresh epoch (used when the event has none), 6 device id, 7 token hash
-- Returns {'unloaded'} | {'auth', code} | {'ok', epoch, version, last stream id, cards whole (0/1),
--   {card, roster record or '', revoked 0/1, ...}, presence whole (0/1), {volunteer, record or '', ...},
--   meta (flat), gates (flat), the device's gate}
if redis.call('EXISTS', KEYS[1]) == 0 then return {'unloaded'} end
local dev, refused = enrolled_device(KEYS[9], ARGV[6], ARGV[7])
if not dev then return {'auth', refused} end

local epoch = redis.call('HGET', KEYS[7], 'epoch')
if not epoch then
  epoch = ARGV[5]
  redis.call('HSET', KEYS[7], 'epoch', epoch)
end
local version = redis.call('HGET', KEYS[7], 'version') or '0'
local same = ARGV[1] == epoch and tonumber(ARGV[2]) <= tonumber(version)

local cards, cards_whole = {}, 0
local function add_card(card, record, revoked)
  cards[#cards + 1] = card
  cards[#cards + 1] = record or ''
  cards[#cards + 1] = revoked
end
if same then
  for _, card in ipairs(redis.call('ZRANGEBYSCORE', KEYS[8], '(' .. ARGV[2], '+inf')) do
    add_card(card, redis.call('HGET', KEYS[2], card), redis.call('SISMEMBER', KEYS[3], card))
  end
else
  cards_whole = 1
end

local function id_of(text)
  local ms, seq = string.match(text or '', '^(%d+)-(%d+)$')
  if not ms then return nil end
  return {tonumber(ms), tonumber(seq)}
end
local function before(a, b) return a[1] < b[1] or (a[1] == b[1] and a[2] < b[2]) end

local last, added, length, deleted = '0-0', 0, 0, '0-0'
if redis.call('EXISTS', KEYS[6]) == 1 then
  local info = redis.call('XINFO', 'STREAM', KEYS[6])
  for i = 1, #info, 2 do
    local k = info[i]
    if k == 'last-generated-id' then last = info[i + 1]
    elseif k == 'entries-added' then added = info[i + 1]
    elseif k == 'length' then length = info[i + 1]
    elseif k == 'max-deleted-entry-id' then deleted = info[i + 1] end
  end
end
local since, last_id = id_of(ARGV[3]), id_of(last)
local delta = same and since ~= nil and not before(last_id, since) and not before(since, id_of(deleted))
if delta and added > length then
  -- Trimming removes the oldest entries only: all after the cursor are still there while its own entry is.
  local first = redis.call('XRANGE', KEYS[6], '-', '+', 'COUNT', 1)[1]
  if first then delta = not before(since, id_of(first[1])) else delta = not before(since, last_id) end
end

local presence, presence_whole = {}, 0
if delta then
  local most = tonumber(ARGV[4])
  local entries = redis.call('XRANGE', KEYS[6], '(' .. ARGV[3], '+', 'COUNT', most + 1)
  if #entries > most then
    delta = false
  else
    local seen = {}
    for _, entry in ipairs(entries) do
      local f, vid, verdict = entry[2], nil, nil
      for i = 1, #f, 2 do
        if f[i] == 'vol' then vid = f[i + 1] elseif f[i] == 'verdict' then verdict = f[i + 1] end
      end
      -- only these move presence; a duplicate or a refusal leaves it as it was
      if vid and vid ~= '' and not seen[vid]
          and (verdict == 'checked_in' or verdict == 'checked_out' or verdict == 'annulled') then
        seen[vid] = true
        presence[#presence + 1] = vid
        presence[#presence + 1] = redis.call('HGET', KEYS[5], vid) or ''
      end
    end
  end
end
if not delta then
  presence_whole = 1
  presence = {}
end
return {'ok', epoch, version, last, cards_whole, cards, presence_whole, presence,
  redis.call('HGETALL', KEYS[1]), redis.call('HGETALL', KEYS[4]), dev.g or ''}
