-- Put before every script a kiosk calls (scan.lua, gate_copy.lua: checkin/scan/script.py `kiosk_script`), so
-- that each checks the device the same way: its record, or nil and the code of the {'auth', code} answer.
local function enrolled_device(devices_key, device_id, token_hash)
  local dev = redis.call('HGET', devices_key, device_id)
  if not dev then return nil, 'unknown_device' end
  dev = cjson.decode(dev)
  if dev.h ~= token_hash then return nil, 'bad_token' end
  if dev.s ~= 'active' then return nil, 'device_revoked' end
  return dev
end

