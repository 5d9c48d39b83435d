"""Jinja2 templates of the viewer, their filters, and the one way a page is rendered."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from importlib import metadata
from types import SimpleNamespace
from typing import Any
from urllib.parse import urlencode

from fastapi import Request
from fastapi.responses import HTMLResponse
from jinja2 import Environment, PackageLoader, select_autoescape
from markupsafe import Markup

from audittrail.access import (
    ADMIN_SCOPE,
    APPLICATIONS_READ,
    APPLICATIONS_WRITE,
    EXPORT,
    LOG_READ,
    RECORDS_READ,
    RECORDS_WRITE,
    STATS_READ,
    Principal,
)

STATIC = "/static/web"
# Asks for the assets of this version: a browser keeps them a day (audittrail/assets.Assets).
VERSION = metadata.version("audittrail")

environment = Environment(
    loader=PackageLoader("audittrail.web", "templates"),
    autoescape=select_autoescape(default=True, default_for_string=True),
    trim_blocks=True,
    lstrip_blocks=True,
)


def utc_text(moment: datetime | None) -> str:
    """A moment as the page first shows it, in UTC; static/app.js shows it in the viewer's zone."""
    if moment is None:
        return ""
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def iso(moment: datetime | None) -> str:
    if moment is None:
        return ""
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def pretty_json(value: Any) -> str:
    return json.dumps(value, indent=2, ensure_ascii=False, sort_keys=True)


def time_tag(moment: datetime | None) -> Markup:
    """<time> of a moment: machine-readable, shown in UTC until app.js localises it."""
    if moment is None:
        return Markup("")
    return Markup('<time datetime="{}">{}</time>').format(iso(moment), utc_text(moment))


def query_string(values: dict[str, Any]) -> str:
    """A URL's query from the values that are set (a filter left empty is no filter)."""
    kept = {name: value for name, value in values.items() if value not in (None, "", [])}
    return urlencode(kept, doseq=True)


# The scopes, by name, for a template's `principal.holds(SCOPE.RECORDS_READ)`.
SCOPE = SimpleNamespace(
    RECORDS_WRITE=RECORDS_WRITE,
    RECORDS_READ=RECORDS_READ,
    STATS_READ=STATS_READ,
    EXPORT=EXPORT,
    APPLICATIONS_READ=APPLICATIONS_READ,
    APPLICATIONS_WRITE=APPLICATIONS_WRITE,
    LOG_READ=LOG_READ,
    ADMIN=ADMIN_SCOPE,
)

environment.filters.update(iso=iso, pretty_json=pretty_json, time_tag=time_tag)
environment.globals.update(STATIC=STATIC, VERSION=VERSION, SCOPE=SCOPE, query_string=query_string)


def navigation(principal: Principal | None) -> list[tuple[str, str]]:
    """The pages this principal may open, as (path, label): nothing it may not (a reader sees
    no admin links)."""
    if principal is None:
        return []
    pages = [("/", "Dashboard", RECORDS_READ)]
    pages += [("/records", "Records", RECORDS_READ), ("/stats", "Stats", STATS_READ)]
    pages += [("/analytics", "Analytics", STATS_READ)]
    pages += [("/applications", "Applications", APPLICATIONS_READ)]
    pages += [("/api-keys", "API keys", ADMIN_SCOPE), ("/users", "Users", ADMIN_SCOPE)]
    return [(path, label) for path, label, scope in pages if principal.holds(scope)]


def render(
    request: Request,
    template: str,
    principal: Principal | None,
    status_code: int = 200,
    **context: Any,
) -> HTMLResponse:
    page = environment.get_template(template).render(
        request=request,
        principal=principal,
        navigation=navigation(principal),
        path=request.url.path,
        **context,
    )
    return HTMLResponse(page, status_code=status_code)


def render_fragment(template: str, **context: Any) -> str:
    return environment.get_template(template).render(**context)
