"""Polling sync: backfill, incremental, census; leases and run records.

Importing the package imports every tool's sync module, and each registers its syncer
with the runner (``runner.register_syncer``), so ``run_sync`` knows every source kind
whichever ``service.sync`` module a caller imports first. The imports go one way:
this package -> ``jira``/``trello`` -> ``runner``; the runner imports no tool module.
"""

from service.sync import jira, trello  # noqa: F401 - registers the Jira and Trello syncers
