"""The dashboard: server-rendered pages over the portfolio views, with inline SVG charts.

Routes: ``/`` (portfolio overview), ``/projects/{id}``, ``/milestones``, ``/people``,
``/reports`` (``reports_page``: the weekly status reports),
``/sources`` (``sources_page``: add, edit, verify, sync, webhooks), ``/endpoints``
(``endpoints_page``: outbound webhook endpoints, their deliveries), ``/risk`` (``risk_page``: the
risk signals beside the risk register), ``/login`` and ``/logout``.
``service.app`` includes ``router`` when this package is present.
"""

from service.dashboard import endpoints_page, reports_page, risk_page, sources_page
from service.dashboard.pages import router

router.include_router(sources_page.router)
router.include_router(endpoints_page.router)
router.include_router(risk_page.router)
router.include_router(reports_page.router)

__all__ = ["router"]
