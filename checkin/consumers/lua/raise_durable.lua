-- Raise the Redis mirror of the devices' durable watermarks; it only ever moves up, because two
-- consumers' acknowledgements may arrive in either order.
-- KEYS: 1 the event's durable hash.  ARGV: device_id, seq, device_id, seq, ...
for i = 1, #ARGV, 2 do
  if tonumber(ARGV[i + 1]) > tonumber(redis.call('HGET', KEYS[1], ARGV[i]) or '0') then
    redis.call('HSET', KEYS[1], ARGV[i], ARGV[i + 1])
  end
end
return 0
