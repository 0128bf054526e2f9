"""How long a username stays reserved for its owner: memory (one node) and Redis."""
