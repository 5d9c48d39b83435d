"""Static assets shipped in the package (the viewer's, Swagger UI's), cached a day."""

from __future__ import annotations

from typing import Any

from fastapi.staticfiles import StaticFiles
from starlette.responses import Response


class Assets(StaticFiles):
    """Versioned with the package (pages ask for them with ?v=<version>): a browser may keep
    them a day."""

    def file_response(self, *args: Any, **kwargs: Any) -> Response:
        response = super().file_response(*args, **kwargs)
        response.headers.setdefault("Cache-Control", "public, max-age=86400")
        return response
