"""Service hours (服務時數), pure: the vocabulary of policy, scans, sessions and anomalies (model), deriving sessions
and credited hours from the scan log (derive), the city-plan figures (summary), the record-book rules (record_rules),
honor-card progress (honors) and the CSV exports (exports). Nothing here does I/O; reconcile/ feeds it rows.
"""
