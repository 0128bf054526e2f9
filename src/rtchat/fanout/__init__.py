"""Carrying room and user traffic between nodes: one interface (`ports.Fanout`), a memory
hub for nodes in one process and Redis for nodes anywhere."""
