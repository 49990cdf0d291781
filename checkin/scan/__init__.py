"""One scan's verdict: the gate rules as a pure function (rules), and their atomic twin in Redis, the Lua script
in lua/ with its Python wrapper (script). tests/rules_table.py holds the two to one table.
"""
