"""Polling sync: backfill, incremental, census; leases and run records."""
