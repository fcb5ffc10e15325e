"""Jira issue links, Flagged and affected versions into the common model (issue 23), from the
real captured payloads (jirametrics SP-*.json, pinpoint issuelink_*.json)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from mappings.jira import discover_fields, effects_from_webhook, map_issue
from mappings.jira.fields import JiraFieldIds
from mappings.model import Ignored, LinkDelete, LinkUpsert, StatusCategory, TaskPatch
from mappings.profile import load_default_profile
from tests.realdata import REALDATA

SITE = "https://improvingflow.atlassian.net"
JM = REALDATA / "jira-rest" / "jirametrics" / "testdata"


def _issue(name: str) -> dict[str, Any]:
    return json.loads((JM / f"{name}.json").read_text())


def _map(issue: dict[str, Any], **jira: Any) -> Any:
    return map_issue(issue, site_url=SITE, profile=load_default_profile({"jira": jira}))


def test_issuelinks_each_side_with_role_phrase_and_other_status() -> None:
    sp15 = _map(_issue("SP-15")).task
    blocks, clones = sp15.links
    assert (blocks.external_id, blocks.link_type, blocks.direction, blocks.phrase, blocks.role) == (
        "10003", "Blocks", "inward", "is blocked by", "blocked_by")
    assert (blocks.other_external_id, blocks.other_key, blocks.other_status_category) == (
        "10021", "SP-14", StatusCategory.done)
    assert (clones.direction, clones.phrase, clones.role, clones.other_key) == ("outward", "clones", "other", "SP-13")
    (sp14_side,) = _map(_issue("SP-14")).task.links  # the same link from its other side
    assert (sp14_side.external_id, sp14_side.direction, sp14_side.role) == ("10003", "outward", "blocks")
    assert sp14_side.other_status_category is StatusCategory.todo


def test_blocking_links_profile_by_type_name_or_phrase() -> None:
    issue = _issue("SP-15")
    assert [lk.role for lk in _map(issue, blocking_links=["CLONERS"]).task.links] == ["other", "blocks"]
    assert [lk.role for lk in _map(issue, blocking_links=["is cloned by"]).task.links] == ["other", "blocks"]
    assert [lk.role for lk in _map(issue, blocking_links=[]).task.links] == ["other", "other"]


def test_no_issuelinks_key_keeps_stored_links_and_empty_list_clears() -> None:
    issue = _issue("SP-15")
    del issue["fields"]["issuelinks"]
    assert _map(issue).task.links is None
    assert _map(_issue("SP-2")).task.links == []


def test_changelog_link_and_flagged_items() -> None:
    u = _map(_issue("SP-15"))
    links = [c for c in u.changes if c.field == "link"]
    assert [(c.to_value, c.to_id, c.from_value) for c in links] == [
        ("This issue clones SP-13", "SP-13", None), ("This issue is blocked by SP-14", "SP-14", None)]
    assert links[1].changed_at == datetime(2022, 4, 24, 16, 42, 42, 531000, tzinfo=UTC)
    sp10 = _map(_issue("SP-10"))
    assert [(c.from_value, c.to_value) for c in sp10.changes if c.field == "flagged"] == [
        ("false", "true"), ("true", "false")]
    assert sp10.task.flagged is False


def test_flagged_from_discovered_pinned_or_guessed_field() -> None:
    issue = _issue("SP-15")
    assert _map(issue).task.flagged is True  # no /field list: the fallback id, its value looks right
    found = discover_fields([{"id": "customfield_10021", "name": "Flagged", "custom": True}],
                            load_default_profile().jira)
    assert found.flagged == "customfield_10021"
    assert map_issue(issue, site_url=SITE, profile=load_default_profile(), fields=found).task.flagged is True
    # A site whose Flagged is another field: 10021 is then not read.
    other = JiraFieldIds(flagged="customfield_99999")
    assert map_issue(issue, site_url=SITE, profile=load_default_profile(), fields=other).task.flagged is False
    # The fallback id holding something else is not taken for Flagged.
    odd = _issue("SP-2")
    odd["fields"]["customfield_10021"] = [{"value": "Team A", "id": "1"}]
    assert _map(odd).task.flagged is False
    pinned = _issue("SP-2")
    pinned["fields"]["customfield_12345"] = [{"value": "Yes", "id": "1"}]
    assert _map(pinned, flagged_field="customfield_12345").task.flagged is True


def test_affected_versions() -> None:
    issue = _issue("SP-2")
    issue["fields"]["versions"] = [{"id": "10000", "name": "1.0", "released": True}, {"name": "no id"}]
    assert _map(issue).task.affected_versions == ["10000"]


def _pinpoint(name: str) -> dict[str, Any]:
    return json.loads((REALDATA / "jira-webhooks" / "pinpoint" / f"{name}.json").read_text())


def test_issuelink_webhooks() -> None:
    profile = load_default_profile()
    out, into = effects_from_webhook(_pinpoint("issuelink_created"), site_url=SITE, profile=profile)
    assert isinstance(out, LinkUpsert) and isinstance(into, LinkUpsert)
    assert (out.task_external_id, out.link.direction, out.link.phrase, out.link.role, out.link.other_external_id) == (
        "20192", "outward", "blocks", "blocks", "20734")
    assert (into.task_external_id, into.link.direction, into.link.phrase, into.link.role) == (
        "20734", "inward", "is blocked by", "blocked_by")
    assert out.link.external_id == into.link.external_id == "22768"
    assert out.at == datetime(2020, 7, 7, 0, 30, 54, 17000, tzinfo=UTC)
    (gone,) = effects_from_webhook(_pinpoint("issuelink_deleted"), site_url=SITE, profile=profile)
    assert gone == LinkDelete(external_id="22768", at=datetime(2020, 7, 7, 0, 31, 21, 451000, tzinfo=UTC))
    broken = {"webhookEvent": "issuelink_created", "timestamp": 1, "issueLink": {"id": 5}}
    (ignored,) = effects_from_webhook(broken, site_url=SITE, profile=profile)
    assert isinstance(ignored, Ignored) and "issueLink" in ignored.reason


def test_summary_issue_patch_carries_links_versions_and_flag_only_when_present() -> None:
    issue = _issue("SP-15")
    fields = issue["fields"]
    summary = {"id": issue["id"], "key": issue["key"], "fields": {
        "issuelinks": fields["issuelinks"], "customfield_10021": fields["customfield_10021"], "versions": []}}
    payload = {"webhookEvent": "jira:issue_updated", "timestamp": 1650000000000, "issue": summary}
    (patch,) = effects_from_webhook(payload, site_url=SITE, profile=load_default_profile())
    assert isinstance(patch, TaskPatch)
    assert patch.fields["flagged"] is True and patch.fields["affected_versions"] == []
    assert [lk.external_id for lk in patch.fields["links"]] == ["10003", "10002"]
    bare = {**payload, "issue": {"id": issue["id"], "key": issue["key"], "fields": {"summary": "x"}}}
    (patch,) = effects_from_webhook(bare, site_url=SITE, profile=load_default_profile())
    assert not {"flagged", "links", "affected_versions"} & set(patch.fields)
