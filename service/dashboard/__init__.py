"""The dashboard: server-rendered pages over the portfolio views, with inline SVG charts.

Routes: ``/`` (portfolio overview), ``/projects/{id}``, ``/milestones``, ``/people``,
``/login`` and ``/logout``. ``service.app`` includes ``router`` when this package is present.
"""

from service.dashboard.pages import router

__all__ = ["router"]
