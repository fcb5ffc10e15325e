"""The weekly status report (issue 23): its figures (``data``), its stored snapshots
(``snapshots``) and the worker's weekly pass (``schedule``).

Every figure comes from the views (``service.views.compute_view``) at the end of the reported
week; nothing is defined a second time here. Rendering (HTML with the dashboard's charts, PDF) is
the edge's: ``service.dashboard.report_render``, handed in as a ``Renderer`` where a snapshot is
stored, because the domain may not import the dashboard.
"""
