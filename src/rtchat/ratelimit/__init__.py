"""Per-user rate limits: memory (one node) and Redis (shared by every node)."""
