"""The Reports page (issue 23), on both stores: generate a week's report from the form, add a
commentary, publish (final, report.ready once, 409 after), open its HTML and PDF. Posts need the
write scope (as the API's) and the page's CSRF token; another organization's report is 404."""

from __future__ import annotations

import io

import sqlalchemy as sa
from pypdf import PdfReader

from service.dashboard.data import table
from service.db import Database
from service.tables import Event, StatusReport
from tests.dashboard.world import Org, TestClient, sign_in, signed_in

SR, EV = table(StatusReport), table(Event)
WEEK = "2026-W11"


def _signed(client: TestClient, db: Database, o: Org, scope: str = "write") -> str:
    return signed_in(client, db, o, scope, "/reports")


def _generate(client: TestClient, csrf: str, scope: str, week: str = WEEK):
    return client.post("/reports/generate", data={"csrf": csrf, "scope": scope, "week": week},
                       follow_redirects=False)


def test_generate_comment_publish_and_open(client, db, acme):
    csrf = _signed(client, db, acme)
    page = client.get("/reports").text
    assert f'value="portfolio:{acme.portfolio}"' in page and f'value="project:{acme.apollo}"' in page
    assert "No reports yet." in page
    r = _generate(client, csrf, f"portfolio:{acme.portfolio}")
    assert r.status_code == 303, r.text
    report_id = int(r.headers["location"].split("/")[2].split("?")[0])
    detail = client.get(r.headers["location"]).text
    assert "Generated as a draft" in detail and "badge-at-risk" in detail and f"Core {acme.tag}" in detail
    r = client.post(f"/reports/{report_id}/commentary", data={"csrf": csrf, "commentary": "Apollo is late."},
                    follow_redirects=False)
    assert r.status_code == 303, r.text
    html = client.get(f"/reports/{report_id}/html")
    assert html.status_code == 200 and "Apollo is late." in html.text and "draft" in html.text
    assert "style-src 'unsafe-inline'" in html.headers["content-security-policy"]
    r = client.post(f"/reports/{report_id}/publish", data={"csrf": csrf}, follow_redirects=False)
    assert r.status_code == 303, r.text
    with db.read() as c:
        row = c.execute(sa.select(SR).where(SR.c.id == report_id)).one()
    assert row.status == "published" and row.commentary == "Apollo is late." and row.published_by
    pdf = client.get(f"/reports/{report_id}/pdf")
    assert pdf.headers["content-type"] == "application/pdf" and pdf.content == row.pdf
    assert "Apollo is late." in PdfReader(io.BytesIO(pdf.content)).pages[0].extract_text()
    listed = client.get("/reports").text
    row_html = listed.split(f'<tr data-report-id="{report_id}">')[1].split("</tr>")[0]
    assert "published" in row_html and f"/reports/{report_id}/pdf" in row_html and WEEK in row_html
    # Published: final. Publishing again and a new commentary are refused on the page (409).
    again = client.post(f"/reports/{report_id}/publish", data={"csrf": csrf}, follow_redirects=False)
    assert again.status_code == 409 and "already published" in again.text
    late = client.post(f"/reports/{report_id}/commentary", data={"csrf": csrf, "commentary": "x"},
                       follow_redirects=False)
    assert late.status_code == 409
    regen = _generate(client, csrf, f"portfolio:{acme.portfolio}")
    assert regen.status_code == 409 and "never changes" in regen.text


def test_bad_input_is_shown_beside_the_form(client, db, acme):
    csrf = _signed(client, db, acme)
    for scope, week, status, needle in [
        (f"project:{acme.apollo}", "2099-W01", 422, "after the current week"),
        (f"project:{acme.apollo}", "soon", 422, "expected YYYY-Www"),
        ("", WEEK, 422, "Choose a portfolio or a project."),
        ("project:999999", WEEK, 404, "project 999999 not found"),
    ]:
        r = _generate(client, csrf, scope, week)
        assert r.status_code == status, (scope, week, r.text)
        assert needle in r.text and 'data-error' in r.text
    with db.read() as c:
        assert c.execute(sa.select(sa.func.count()).select_from(SR)).scalar() == 0


def test_posts_need_write_scope_and_the_csrf_token(client, db, acme):
    csrf = _signed(client, db, acme, "write")
    r = client.post("/reports/generate", data={"scope": f"project:{acme.apollo}", "week": WEEK},
                    follow_redirects=False)
    assert r.status_code == 403 and "did not come from your Reports page" in r.text
    sign_in(client, acme.token)  # read scope
    page = client.get("/reports").text
    assert "/reports/generate" not in page and 'name="csrf"' not in page and "write scope" in page
    assert _generate(client, csrf, f"project:{acme.apollo}").status_code == 403
    with db.read() as c:
        assert c.execute(sa.select(sa.func.count()).select_from(SR)).scalar() == 0


def test_another_organizations_report_is_404(client, db, acme, globex):
    csrf = _signed(client, db, globex)
    r = _generate(client, csrf, f"project:{globex.apollo}")
    report_id = int(r.headers["location"].split("/")[2].split("?")[0])
    csrf = _signed(client, db, acme)
    for path in (f"/reports/{report_id}", f"/reports/{report_id}/html", f"/reports/{report_id}/pdf"):
        assert client.get(path).status_code == 404, path
    assert client.post(f"/reports/{report_id}/publish", data={"csrf": csrf}).status_code == 404
    assert _generate(client, csrf, f"project:{globex.apollo}").status_code == 404
    assert client.get("/reports/abc").status_code == 404
    with db.read() as c:
        assert c.execute(sa.select(SR.c.status)).scalars().all() == ["draft"]
    assert f"/reports/{report_id}" not in client.get("/reports").text
    with db.read() as c:
        assert c.execute(sa.select(sa.func.count()).select_from(EV).where(EV.c.type == "report.ready")).scalar() == 0


def test_a_commentary_of_non_latin_text_up_to_the_limit_is_saved(client, db, acme):
    """The form's body limit fits the longest commentary percent-encoded (a Chinese character is 9
    bytes, an emoji 12): 4,000 of them are saved, not refused as a form from another site (403)."""
    csrf = _signed(client, db, acme)
    r = _generate(client, csrf, f"project:{acme.apollo}")
    report_id = int(r.headers["location"].split("/")[2].split("?")[0])
    for text in ("\u4e2d\u6587" * 2000, "\U0001F680" * 4000):
        r = client.post(f"/reports/{report_id}/commentary", data={"csrf": csrf, "commentary": text},
                        follow_redirects=False)
        assert r.status_code == 303, r.text[:300]
        with db.read() as c:
            assert c.execute(sa.select(SR.c.commentary).where(SR.c.id == report_id)).scalar() == text
    over = client.post(f"/reports/{report_id}/commentary", data={"csrf": csrf, "commentary": "\u4e2d" * 4001},
                       follow_redirects=False)
    assert over.status_code == 422 and "at most 4000 characters" in over.text
