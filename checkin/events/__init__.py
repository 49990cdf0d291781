"""An event and its plan: the event rows and loading an opened event into Redis (store), the plan file format and
its checks, pure (plan), writing a checked plan (plan_store), rebuilding an event's live Redis state from Postgres
after Redis lost it (rebuild), and the demo festival (demo).
"""
