"""The gateway's Redis clients for the scan path: a bare hiredis protocol client (fast_redis), the batcher that
pipelines many requests' script calls into one round trip (batcher), and its Redis Cluster variant (cluster).
"""
