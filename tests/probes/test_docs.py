"""/docs is Swagger UI from the package's own copy: no other host, under its own strict policy."""

from __future__ import annotations

import base64
import hashlib
import re
from pathlib import Path

import httpx
from fastapi import FastAPI

import audittrail
from tests.conftest import CLIENT_ADDRESS
from tests.probes.support import assert_answer, error

ASSETS = {
    "/static/swagger/swagger-ui-bundle.js": "text/javascript; charset=utf-8",
    "/static/swagger/swagger-ui.css": "text/css; charset=utf-8",
    "/static/swagger/favicon-32x32.png": "image/png",
}
PACKAGED = Path(audittrail.__file__).parent / "static" / "swagger"


def references(html: str) -> list[str]:
    return re.findall(r"""(?:src|href)\s*=\s*["']([^"']*)["']""", html)


async def test_docs_reference_no_other_host(anonymous: httpx.AsyncClient) -> None:
    response = await anonymous.get("/docs")
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/html; charset=utf-8"
    html = response.text
    assert sorted(references(html)) == sorted(ASSETS)
    assert "https://" not in html and "http://" not in html
    assert "url: '/openapi.json'" in html
    assert '"validatorUrl": null' in html


async def test_the_assets_are_served_from_the_package(anonymous: httpx.AsyncClient) -> None:
    for path, content_type in ASSETS.items():
        response = await anonymous.get(path)
        assert response.status_code == 200, path
        assert response.headers["content-type"] == content_type
        assert response.content == (PACKAGED / path.rsplit("/", 1)[1]).read_bytes()
        assert response.headers["cache-control"] == "public, max-age=86400"
        assert response.headers["x-content-type-options"] == "nosniff"
    assert (
        (PACKAGED / "LICENSE").read_text().startswith("\n                                 Apache")
    )


async def test_docs_admit_their_own_inline_script_and_nothing_else(
    anonymous: httpx.AsyncClient,
) -> None:
    response = await anonymous.get("/docs")
    [script] = re.findall(rb"<script>(.*?)</script>", response.content, re.DOTALL)
    digest = base64.b64encode(hashlib.sha256(script).digest()).decode()
    assert response.headers["content-security-policy"] == (
        "default-src 'self'; img-src 'self' data:; style-src 'self'; "
        f"script-src 'self' 'sha256-{digest}'; connect-src 'self'; frame-ancestors 'none'; "
        "base-uri 'none'; form-action 'self'"
    )
    assert response.headers["x-frame-options"] == "DENY"


async def test_docs_under_a_root_path_point_under_it(app: FastAPI) -> None:
    transport = httpx.ASGITransport(app=app, client=CLIENT_ADDRESS, root_path="/audit")
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as mounted:
        html = (await mounted.get("/audit/docs")).text
        assert sorted(references(html)) == sorted(f"/audit{path}" for path in ASSETS)
        assert "url: '/audit/openapi.json'" in html
        asset = await mounted.get("/audit/static/swagger/swagger-ui.css")
        assert asset.status_code == 200


async def test_redoc_and_missing_assets_are_404s(anonymous: httpx.AsyncClient) -> None:
    missing = error("NOT_FOUND", "No such resource.")
    assert_answer(await anonymous.get("/redoc"), 404, missing)
    assert_answer(await anonymous.get("/static/swagger/nothing.js"), 404, missing)
    assert_answer(await anonymous.get("/static/swagger/../../app.py"), 404, missing)
