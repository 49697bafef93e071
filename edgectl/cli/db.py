"""``edgectl db``: the store itself (a damaged one, today)."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.table import Table

from edgectl.cli.common import ConfigOption, console, load_or_exit, plain
from edgectl.locks import Busy, StoreLock
from edgectl.store.db import StoreError
from edgectl.store.recover import recover

app = typer.Typer(help="The site's database.", no_args_is_help=True)


@app.command("recover")
def recover_db(config: Path = ConfigOption) -> None:
    """Salvage a damaged database into a new one (keeping seq and identity); the damaged
    files are kept beside it. Stop the daemon first."""
    cfg = load_or_exit(config)
    path = Path(cfg.store.path)
    if not path.exists():
        plain(f"error: no database at {path}", err=True)
        raise typer.Exit(1)
    lock = StoreLock(path)
    try:
        lock.acquire()
        report, damaged = recover(path)
    except (Busy, StoreError) as exc:
        plain(f"error: {exc}", err=True)
        raise typer.Exit(1) from None
    finally:
        lock.release()
    table = Table("table", "rows salvaged", "unreadable runs")
    for name, rows in sorted(report.rows.items()):
        table.add_row(name, str(rows), str(report.unreadable.get(name, "")))
    console.print(table)
    plain(f"journal seq continues after {report.journal_seq}")
    if report.orphans:
        plain(
            f"{report.orphans} row(s) refer to rows that were lost (see PRAGMA foreign_key_check)"
        )
    plain(f"the damaged files are kept as {damaged}")
    if report.problems:
        plain(f"error: the salvaged database still fails its check: {report.problems}", err=True)
        raise typer.Exit(1)
    plain(f"recovered {path}")
