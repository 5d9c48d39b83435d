"""The command line: serve and migrate."""

from __future__ import annotations

from typing import Annotated

import typer
import uvicorn

from audittrail.config import Settings
from audittrail.db import migrate as migrations

app = typer.Typer(help="audittrail: a self-hosted, verifiable audit trail.", no_args_is_help=True)


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8000,
    workers: Annotated[int, typer.Option(help="Worker processes.")] = 1,
) -> None:
    """Serve the API with the settings from the environment (AUDITTRAIL_*)."""
    Settings()  # fail fast, before uvicorn starts, on bad settings
    uvicorn.run(
        "audittrail.app:create_app",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        proxy_headers=False,
    )


@app.command()
def migrate() -> None:
    """Apply the database migrations."""
    settings = Settings()
    migrations.upgrade(settings.database_url)
    typer.echo("database is up to date")
