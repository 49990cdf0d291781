"""The `checkin` command, and the composition root: it may import every part of the product.

`main` parses arguments and dispatches; one module per command group (`admin` for event, device, user, cards and
status; `plan`, `device`, `dlq`, `pii`, `reconcile`, `roster`, `certificate`, `backup`); `supervisor` is `checkin up`
(embedded servers and every process, which `server_keeper` restarts when they die).
"""
