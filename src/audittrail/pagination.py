"""The one pagination helper: page/page_size query parameters and the envelope's arithmetic."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Query
from pydantic import BaseModel

MAX_PAGE_SIZE = 200
# Keeps OFFSET within what databases take; a walk this deep belongs to a cursor.
MAX_PAGE = 1_000_000


@dataclass(frozen=True)
class PageRequest:
    page: int
    page_size: int

    @property
    def offset(self) -> int:
        return (self.page - 1) * self.page_size

    def meta(self, total: int) -> dict[str, int]:
        return {
            "total": total,
            "page": self.page,
            "page_size": self.page_size,
            "total_pages": -(-total // self.page_size),
        }


def page_request(
    page: Annotated[
        int, Query(ge=1, le=MAX_PAGE, description="1-based page number (deeper: use a cursor).")
    ] = 1,
    page_size: Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE, description="Items per page.")] = 50,
) -> PageRequest:
    return PageRequest(page=page, page_size=page_size)


class PageMeta(BaseModel):
    total: int
    page: int
    page_size: int
    total_pages: int


Pages = Annotated[PageRequest, Depends(page_request)]
