"""Signed events out (issue 22): the catalog of event types, the transactional outbox (``emit``),
and delivery to subscribed endpoints by the worker.

The types registered outside ``catalog`` are imported here, so that importing anything of the
package completes the catalog (``state_types``: the milestone, budget and source.failing types).
"""

from service.events import catalog, state_types  # noqa: F401 - registers the types
