"""Signed events out (issue 22): the catalog of event types, the transactional outbox (``emit``),
and delivery to subscribed endpoints by the worker."""
