"""Request dependencies shared by every domain: settings, database sessions, client address."""

from __future__ import annotations

import ipaddress
from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.ext.asyncio import AsyncSession

from audittrail.config import Settings
from audittrail.db.engine import Database
from audittrail.errors import UnsupportedMediaType
from audittrail.strict_json import json_value


def get_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def get_database(request: Request) -> Database:
    database: Database = request.app.state.database
    return database


async def get_read_session(request: Request) -> AsyncIterator[AsyncSession]:
    async with get_database(request).read_session() as session:
        yield session


async def get_write_session(request: Request) -> AsyncIterator[AsyncSession]:
    """The request's one transaction, committed before the response is sent."""
    async with get_database(request).write_session() as session:
        yield session


async def client_ip(request: Request) -> str | None:
    """The peer address, or the nearest untrusted hop of X-Forwarded-For behind trusted proxies."""
    peer = request.client.host if request.client else None
    networks = get_settings(request).proxy_networks
    if peer is None or not networks or not _is_trusted(peer, networks):
        return peer
    forwarded = request.headers.get("x-forwarded-for", "")
    hops = [hop.strip() for hop in forwarded.split(",") if hop.strip()]
    for hop in reversed(hops):
        if not _is_trusted(hop, networks):
            return hop if _is_address(hop) else peer
    return hops[0] if hops and _is_address(hops[0]) else peer


JSON = "application/json"


def check_media_type(request: Request, body: bytes, *accepted: str) -> None:
    """415 UNSUPPORTED_MEDIA_TYPE for a body not declared as one of the accepted types. A body is
    read only as what it says it is: a form or text/plain is what any site's page may send
    without asking the browser's leave (CORS), with the session cookie."""
    if not body:
        return
    declared = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if declared not in accepted:
        raise UnsupportedMediaType(f"The request body must be {' or '.join(accepted)}.")


async def json_bodies(request: Request) -> None:
    """The body of a FastAPI route that takes one is JSON only, and names no key twice (app.py
    puts this on every router). FastAPI has read the body already (and would take a repeated
    key's last value); its route says whether it takes one."""
    route = request.scope.get("route")
    if getattr(route, "body_field", None) is not None:
        body = await request.body()
        check_media_type(request, body, JSON)
        if body:
            json_value(body, "The request body")


def request_scheme(request: Request) -> str:
    """http or https as the client used it: X-Forwarded-Proto's first (the client-facing) value
    when the peer is a trusted proxy, else the connection's own scheme."""
    peer = request.client.host if request.client else None
    networks = get_settings(request).proxy_networks
    if peer is not None and networks and _is_trusted(peer, networks):
        forwarded = request.headers.get("x-forwarded-proto", "").split(",")[0].strip().lower()
        if forwarded in ("http", "https"):
            return forwarded
    return request.url.scheme


def _is_address(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


def _is_trusted(
    address: str, networks: tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]
) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in network for network in networks)


SettingsDep = Annotated[Settings, Depends(get_settings)]
DatabaseDep = Annotated[Database, Depends(get_database)]
ReadSession = Annotated[AsyncSession, Depends(get_read_session)]
WriteSession = Annotated[AsyncSession, Depends(get_write_session, scope="function")]
ClientIP = Annotated[str | None, Depends(client_ip)]
