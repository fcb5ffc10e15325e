"""SQLModel tables, one module per area. Never returned from the API as-is (see service/schemas.py).

Every synced row keys on ``(source_id, external_id)`` and carries ``org_id``;
``remote_updated_at`` drives the monotonic guard; ``raw`` keeps the vendor JSON.
"""

from service.tables.base import stored_id, table, utcnow
from service.tables.event_state import EventState
from service.tables.events import Event, EventDelivery, WebhookEndpoint
from service.tables.inbox import InboxEvent
from service.tables.portfolio import (
    Milestone,
    MilestoneChange,
    Person,
    PersonIdentity,
    PersonLinkRejection,
    PersonRate,
    Portfolio,
    PortfolioProject,
    Project,
)
from service.tables.reports import RiskItem, StatusReport
from service.tables.rollups import MilestoneRollup, TaskDayRollup, TaskRollup, WorkloadRollup, WorklogRollup
from service.tables.sources import Source, SyncRun, SyncState, WebhookRegistration
from service.tables.tasks import Change, Task, TaskAssignee, TaskLink, TaskMilestone, Worklog
from service.tables.tenancy import ApiToken, DashboardSession, Organization

__all__ = [
    "Organization",
    "EventState",
    "ApiToken",
    "DashboardSession",
    "Source",
    "SyncState",
    "SyncRun",
    "WebhookRegistration",
    "Project",
    "Portfolio",
    "PortfolioProject",
    "Person",
    "PersonIdentity",
    "PersonLinkRejection",
    "PersonRate",
    "Milestone",
    "MilestoneChange",
    "Task",
    "TaskAssignee",
    "TaskMilestone",
    "TaskLink",
    "RiskItem",
    "StatusReport",
    "Worklog",
    "Change",
    "TaskRollup",
    "TaskDayRollup",
    "MilestoneRollup",
    "WorkloadRollup",
    "WorklogRollup",
    "InboxEvent",
    "WebhookEndpoint",
    "Event",
    "EventDelivery",
    "stored_id",
    "table",
    "utcnow",
]
