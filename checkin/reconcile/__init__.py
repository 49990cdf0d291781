"""Reconciliation after the event, over Postgres: stream the scan log into hours/ (pure), record corrections with
their audit trail, approvals and record acceptances, and feed the exports (store).
"""
