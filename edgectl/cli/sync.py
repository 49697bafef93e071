"""``edgectl sync status``: how far the head-office link is behind, read from the store;
``edgectl sync reprovision``: start a new journal epoch."""

from __future__ import annotations

import getpass
import json
import sqlite3
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer

from edgectl.cli.common import ConfigOption, load_or_exit
from edgectl.store.db import StoreError, connect, open_store
from sync.outbox import start_new_epoch
from sync.status import read_status

app = typer.Typer(help="The head-office sync link.", no_args_is_help=True)


@app.callback()
def sync() -> None:
    """The head-office sync link."""


@app.command()
def status(
    config: Path = ConfigOption,
    db: Annotated[Path | None, typer.Option("--db", help="The store, instead of --config.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object.")] = False,
) -> None:
    """Backlog depth, age of the oldest unsent event, last sync time, failures by kind."""
    path = db if db is not None else Path(load_or_exit(config).store.path)
    if not path.exists():
        typer.echo(f"error: no store at {path}", err=True)
        raise typer.Exit(2)
    try:
        conn = connect(path, readonly=True)
        st = read_status(conn, datetime.now(UTC))
    except (StoreError, sqlite3.Error) as exc:
        typer.echo(f"error: cannot read sync status from {path}: {exc}", err=True)
        raise typer.Exit(1) from None
    if as_json:
        typer.echo(json.dumps(st.to_json(), sort_keys=True))
        return
    last = st.last_sync_at.isoformat(timespec="seconds") if st.last_sync_at else "never"
    failures = ", ".join(f"{k}={v}" for k, v in sorted(st.failures.items())) or "none"
    typer.echo(f"backlog:        {st.backlog} events (acked {st.acked_seq} of {st.head_seq})")
    typer.echo(f"oldest unsent:  {st.oldest_unsent_age_s:.1f} s")
    typer.echo(f"last sync:      {last}")
    typer.echo(f"failures:       {failures}")
    if st.last_error:
        typer.echo(f"last error:     [{st.last_error['kind']}] {st.last_error['message']}")
    typer.echo(f"work order updates not yet pushed: {st.unpushed_workorder_updates}")


@app.command()
def reprovision(
    config: Path = ConfigOption,
    db: Annotated[Path | None, typer.Option("--db", help="The store, instead of --config.")] = None,
    yes: Annotated[bool, typer.Option("--yes", help="Confirm.")] = False,
) -> None:
    """Start a new journal epoch: the whole journal is sent to the hub again as a new stream.

    For a database restored from a backup or a replaced box whose hub refuses its batches
    (`epoch_mismatch`). Run it here first, then `edgectl hub sites reprovision SITE` at the
    hub; the hub keeps the events of both epochs.
    """
    path = db if db is not None else Path(load_or_exit(config).store.path)
    if not yes:
        typer.echo("error: this re-sends the whole journal under a new epoch; add --yes", err=True)
        raise typer.Exit(2)
    if not path.exists():
        typer.echo(f"error: no store at {path}", err=True)
        raise typer.Exit(2)
    try:
        old, new = start_new_epoch(open_store(path), actor=getpass.getuser(), interface="cli")
    except (StoreError, sqlite3.Error) as exc:
        typer.echo(f"error: cannot re-provision {path}: {exc}", err=True)
        raise typer.Exit(1) from None
    typer.echo(
        f"journal epoch {old} -> {new}; the journal is sent again from its start. "
        "Now run `edgectl hub sites reprovision SITE` at the hub."
    )
