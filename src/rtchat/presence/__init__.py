"""Presence implementations: who is online."""
