"""Helpers of the viewer's browser tests: a server with records, signing in, axe, screenshots."""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from playwright.sync_api import BrowserContext, Page

from tests.conftest import ADMIN_EMAIL, ADMIN_KEY, ADMIN_PASSWORD
from tests.crash.support import Server
from tests.helpers import APPLICATIONS, RECORDS

CHROMIUM = "/usr/bin/chromium"
READER_EMAIL = "reader@example.com"
AUDITOR_EMAIL = "auditor@example.com"
PEOPLE_PASSWORD = "a long enough passphrase for tests"
AXE = Path(__file__).parent / "vendor" / "axe.min.js"
SCREENSHOTS = Path(
    os.environ.get("AUDITTRAIL_SCREENSHOTS", Path(__file__).parents[2] / "docs" / "screenshots")
)
WIDTHS = {"wide": 1280, "narrow": 390}
SCHEMES = ("light", "dark")

BILLING = {
    "key": "billing",
    "name": "Billing",
    "accent_color": "#16a34a",
    "description": "Invoices, refunds and payment methods.",
    "params": [
        {"key": "amount", "label": "Amount", "type": "number"},
        {"key": "currency", "label": "Currency", "type": "string"},
        {"key": "card_last4", "label": "Card (last 4)", "type": "string", "sensitive": True},
    ],
}
IDENTITY = {
    "key": "identity",
    "name": "Identity",
    "accent_color": "#9333ea",
    "params": [{"key": "method", "label": "Method", "type": "string"}],
}


@dataclass
class Site:
    """A running server and what was put in it."""

    server: Server
    database: str
    records: list[dict[str, Any]] = field(default_factory=list)
    applications: dict[str, dict[str, Any]] = field(default_factory=dict)

    @property
    def url(self) -> str:
        return self.server.url

    def api(self) -> httpx.Client:
        return httpx.Client(
            base_url=self.url, headers={"Authorization": f"Bearer {ADMIN_KEY}"}, timeout=10
        )

    def post_record(self, **fields: Any) -> dict[str, Any]:
        body = {"event_type": "test.event", "summary": "A test record", **fields}
        with self.api() as api:
            response = api.post(RECORDS, json=body)
        assert response.status_code == 201, response.text
        created: dict[str, Any] = response.json()
        return created


def seed(site: Site) -> None:
    """Two applications with params, two people, and records of every severity."""
    with site.api() as api:
        for application in (BILLING, IDENTITY):
            response = api.post(APPLICATIONS, json=application)
            assert response.status_code == 201, response.text
            site.applications[application["key"]] = response.json()
        for email, role in ((READER_EMAIL, "reader"), (AUDITOR_EMAIL, "auditor")):
            response = api.post(
                "/api/users", json={"email": email, "password": PEOPLE_PASSWORD, "roles": [role]}
            )
            assert response.status_code == 201, response.text
    severities = ("critical", "high", "medium", "low", "none")
    for number in range(30):
        if number % 3 == 0:
            fields: dict[str, Any] = {
                "application_key": "billing",
                "event_type": "invoice.refunded",
                "summary": f"Refunded invoice INV-{1000 + number}",
                "entity_type": "invoice",
                "entity_id": f"INV-{1000 + number}",
                "params": {"amount": 10.5 * number, "currency": "EUR", "card_last4": "4242"},
            }
        elif number % 3 == 1:
            fields = {
                "application_key": "identity",
                "event_type": "user.signed_in",
                "summary": f"Signed in from device {number}",
                "entity_type": "user",
                "entity_id": f"u{number}",
                "params": {"method": "passkey" if number % 2 else "password"},
            }
        else:
            fields = {
                "event_type": "report.generated",
                "summary": f"Generated the monthly report {number}",
                "category": "reports",
            }
        fields["severity"] = severities[number % len(severities)]
        fields["metadata"] = {"region": "eu" if number % 2 else "us"}
        site.records.append(site.post_record(**fields))


def sign_in(context: BrowserContext, site: Site, email: str, password: str) -> None:
    """The session cookie in this browser context, as the sign-in page would get it."""
    response = context.request.post(
        f"{site.url}/api/auth/login",
        data=json.dumps({"email": email, "password": password}),
        headers={"Content-Type": "application/json"},
    )
    assert response.status == 200, response.text()


def sign_in_as_admin(context: BrowserContext, site: Site) -> None:
    sign_in(context, site, ADMIN_EMAIL, ADMIN_PASSWORD)


def axe_violations(page: Page) -> list[dict[str, Any]]:
    """axe-core's serious and critical violations on the page as it is now (WCAG 2.1 AA)."""
    page.evaluate(AXE.read_text())  # by the driver, not a <script>: the page's CSP stands
    result = page.evaluate(
        "async () => (await axe.run(document, {runOnly: ['wcag2a', 'wcag2aa', 'wcag21a', "
        "'wcag21aa', 'best-practice']})).violations"
    )
    return [
        {"id": v["id"], "impact": v["impact"], "nodes": [n["target"] for n in v["nodes"][:5]]}
        for v in result
        if v["impact"] in ("serious", "critical")
    ]


def check_accessible(page: Page) -> None:
    """No serious or critical axe violation, in light and in dark."""
    for scheme in SCHEMES:
        page.emulate_media(color_scheme=scheme)
        assert axe_violations(page) == [], f"{page.url} ({scheme})"
    page.emulate_media(color_scheme="light")


def screenshots(page: Page, site: Site, name: str) -> None:
    """The page at both widths, light and dark, into docs/screenshots (from the SQLite run)."""
    if site.database != "sqlite":
        return
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    size = page.viewport_size or {"width": 1280, "height": 900}
    for width_name, width in WIDTHS.items():
        page.set_viewport_size({"width": width, "height": 900 if width > 600 else 844})
        for scheme in SCHEMES:
            page.emulate_media(color_scheme=scheme)
            page.screenshot(path=SCREENSHOTS / f"{name}-{width_name}-{scheme}.png")
    page.set_viewport_size(size)
    page.emulate_media(color_scheme="light")


# Stats, analytics, dashboard.


def covered_by_checkpoint(site: Site, seconds: float = 30.0) -> int:
    """The log's size, once a signed checkpoint covers all of it (the server signs every 0.2 s):
    a page that verifies the newest records then finds none awaiting."""
    deadline = time.monotonic() + seconds
    with site.api() as api:
        while True:
            size: int = api.get("/api/audit-trail/log/head").json()["tree_size"]
            note = api.get("/api/audit-trail/log/checkpoint")
            if note.status_code == 200 and int(note.text.split("\n")[1]) >= size:
                return size
            assert time.monotonic() < deadline, f"no checkpoint covered {size} records in time"
            time.sleep(0.05)


def check_accessible_narrow(page: Page) -> None:
    """check_accessible at 390 px wide too, where charts and tables scroll sideways, with the
    tables behind <details> open."""
    page.evaluate("document.querySelectorAll('details').forEach(d => { d.open = true; })")
    size = page.viewport_size or {"width": 1280, "height": 900}
    page.set_viewport_size({"width": 390, "height": 844})
    check_accessible(page)
    page.set_viewport_size(size)
