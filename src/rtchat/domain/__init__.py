"""Chat domain: models, rules and errors. Pure: no I/O, no framework imports."""
