"""The live picture coordinators watch. Pure: the view of headcounts per zone, gate, team and shift (view), the
data it is made of and how a stream entry moves it (snapshot), and today's durable per-hour and per-gate counters
(day_counts). Its loaders: the counters, presence and stream read from Redis (headcount), the event's zones,
gates, shifts and assignments from Postgres (roster), and the two joined into a LiveState (build).
"""
