"""Who may do what: staff accounts and their tokens (accounts), a kiosk's one-time enrolment and PIN
(enrollment), and the coordinator desk's acts on a volunteer: manual check-in and out, undo of a scan, roster search
(operations), and help for a volunteer whose card does not work (desk). Everything here reads and writes Postgres
and Redis; the gateway calls it after authenticating.
"""
