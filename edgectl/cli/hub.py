"""``edgectl hub ...``: run the reference hub and manage its sites, people, cards, work orders.

Management commands write the hub's SQLite file directly (WAL lets them run beside
``hub serve``); sites pick the changes up on their next pull.
"""

from __future__ import annotations

import asyncio
import json
import secrets
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated, Any

import typer

from edgectl.store.workorders import missed_deadlines
from sync.apply import InvalidRecord, parse_changes
from sync.hub.store import HubError, HubStore
from sync.pins import key_record

app = typer.Typer(
    help="The reference head-office hub (development, demos, tests).", no_args_is_help=True
)
sites_app = typer.Typer(help="Sites and their bearer tokens.", no_args_is_help=True)
people_app = typer.Typer(help="People of a site.", no_args_is_help=True)
cards_app = typer.Typer(help="Credentials (cards, PINs, plates) of a site.", no_args_is_help=True)
levels_app = typer.Typer(help="Access levels of a site.", no_args_is_help=True)
groups_app = typer.Typer(
    help="Groups of a site (people who share access levels).", no_args_is_help=True
)
orders_app = typer.Typer(help="Work orders of a site.", no_args_is_help=True)
app.add_typer(sites_app, name="sites")
app.add_typer(people_app, name="people")
app.add_typer(cards_app, name="cards")
app.add_typer(levels_app, name="levels")
app.add_typer(groups_app, name="groups")
app.add_typer(orders_app, name="workorders")

Db = Annotated[Path, typer.Option("--db", help="The hub's SQLite file.")]
Site = Annotated[str, typer.Option("--site", help="Site id.")]


def _store(db: Path) -> HubStore:
    return HubStore(db)


def _print(doc: Any) -> None:
    typer.echo(json.dumps(doc, indent=2, sort_keys=True))


def _check(type_: str, rid: str | int, data: dict[str, Any]) -> None:
    """Check a record as a site would, so no site ever refuses it; exit 2 naming the problem."""
    try:
        parse_changes([{"type": type_, "op": "upsert", "id": rid, "data": data}])
    except InvalidRecord as exc:
        typer.echo(f"error: {type_} {rid}: {exc.problem}", err=True)
        raise typer.Exit(2) from None


def _keyed(store: HubStore, site: str, data: dict[str, Any]) -> dict[str, Any]:
    """A credential with its PINs replaced by digests under the site's key."""
    try:
        return key_record(store.pin_key(site), data)
    except HubError as exc:
        raise _fail(exc) from None


def _put(store: HubStore, site: str, type_: str, rid: str | int, data: dict[str, Any]) -> int:
    if type_ == "credential":
        data = _keyed(store, site, data)
    _check(type_, rid, data)
    try:
        return store.put_record(site, type_, rid, data)
    except HubError as exc:
        raise _fail(exc) from None


def _fail(exc: HubError) -> typer.Exit:
    typer.echo(f"error: {exc}", err=True)
    return typer.Exit(2 if exc.status < 500 else 1)


@app.command()
def serve(
    db: Db,
    port: Annotated[int, typer.Option(help="TCP port.")] = 8080,
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    tls_cert: Annotated[str, typer.Option(help="Server certificate (PEM) for HTTPS.")] = "",
    tls_key: Annotated[str, typer.Option(help="Server key (PEM).")] = "",
    client_ca: Annotated[str, typer.Option(help="CA for site client certificates (mTLS).")] = "",
) -> None:
    """Serve the sync API until interrupted."""
    from sync.hub.app import server_ssl, start

    async def main() -> None:
        ctx = server_ssl(tls_cert, tls_key, client_ca) if tls_cert else None
        runner = await start(db, host, port, ssl_context=ctx)
        typer.echo(f"hub listening on {'https' if ctx else 'http'}://{host}:{port} (db {db})")
        try:
            await asyncio.Event().wait()
        finally:
            await runner.cleanup()

    try:
        asyncio.run(main())
    except KeyboardInterrupt:
        pass


@sites_app.command("add")
def sites_add(
    db: Db,
    site: Annotated[str, typer.Argument()],
    name: Annotated[str, typer.Option(help="The site's name, as operators know it.")] = "",
) -> None:
    """Register a site and print its bearer token (shown once)."""
    try:
        typer.echo(_store(db).add_site(site, name))
    except HubError as exc:
        raise _fail(exc) from None


@sites_app.command("token")
def sites_token(db: Db, site: Annotated[str, typer.Argument()]) -> None:
    """Issue a new token for a site (the old one stops working) and print it."""
    try:
        typer.echo(_store(db).rotate_token(site))
    except HubError as exc:
        raise _fail(exc) from None


@sites_app.command("list")
def sites_list(db: Db) -> None:
    """Sites with their journal epoch, acked seq, events held, last contact and state."""
    _print(_store(db).sites())


def _site_action(db: Path, site: str, action: Callable[[HubStore], None], done: str) -> None:
    try:
        action(_store(db))
    except HubError as exc:
        raise _fail(exc) from None
    typer.echo(f"{site}: {done}")


@sites_app.command("disable")
def sites_disable(db: Db, site: Annotated[str, typer.Argument()]) -> None:
    """Cut a site off (a stolen box): its token and its certificate get 401 from now on."""
    _site_action(db, site, lambda s: s.set_disabled(site, True), "disabled")


@sites_app.command("enable")
def sites_enable(db: Db, site: Annotated[str, typer.Argument()]) -> None:
    """Let a disabled site back in (issue a new token with `sites token` if it was stolen)."""
    _site_action(db, site, lambda s: s.set_disabled(site, False), "enabled")


@sites_app.command("delete")
def sites_delete(
    db: Db,
    site: Annotated[str, typer.Argument()],
    yes: Annotated[bool, typer.Option("--yes", help="Confirm: everything is deleted.")] = False,
) -> None:
    """Delete a site and everything the hub holds for it: events, people, cards, orders."""
    if not yes:
        typer.echo(f"error: this deletes every event and record of {site}; add --yes", err=True)
        raise typer.Exit(2)
    _site_action(db, site, lambda s: s.delete_site(site), "deleted")


@sites_app.command("reprovision")
def sites_reprovision(db: Db, site: Annotated[str, typer.Argument()]) -> None:
    """Accept a new journal from this site (a replaced box, a wiped or restored database).

    The site's next batch starts a new epoch; every event of the current one is kept.
    """
    _site_action(
        db,
        site,
        lambda s: s.reprovision(site),
        "will start a new journal epoch on its next batch (the current one is kept)",
    )


@app.command()
def events(
    db: Db,
    site: Site,
    after: Annotated[int, typer.Option(help="Show events after this seq.")] = 0,
    limit: Annotated[int, typer.Option(help="How many events to show.")] = 20,
    epoch: Annotated[str | None, typer.Option(help="Journal epoch (default: current).")] = None,
) -> None:
    """Events a site has forwarded, oldest first."""
    store = _store(db)
    known = sorted(s["id"] for s in store.sites())
    if site not in known:
        typer.echo(f"error: unknown site {site!r}; sites: {', '.join(known) or 'none'}", err=True)
        raise typer.Exit(2)
    _print(store.events(site, after, limit, epoch))


@app.command()
def compact(db: Db, site: Site) -> None:
    """Purge deleted records; sites whose cursor is older must take a full resync."""
    try:
        typer.echo(f"changes floor for {site}: {_store(db).compact(site)}")
    except HubError as exc:
        raise _fail(exc) from None


@people_app.command("add")
def people_add(
    db: Db,
    site: Site,
    person: Annotated[str, typer.Argument(help="Person id.")],
    name: Annotated[str, typer.Option(help="Display name.")] = "",
    role: Annotated[
        str, typer.Option(help="resident, staff, guard, contractor or visitor.")
    ] = "resident",
    level: Annotated[list[str] | None, typer.Option(help="Access level id (repeat).")] = None,
    group: Annotated[list[str] | None, typer.Option(help="Group id (repeat).")] = None,
) -> None:
    """Add or update a person."""
    data = {"name": name, "role": role, "levels": level or [], "groups": group or []}
    _print({"cursor": _put(_store(db), site, "person", person, data), **data})


@people_app.command("remove")
def people_remove(db: Db, site: Site, person: Annotated[str, typer.Argument()]) -> None:
    """Remove a person and, on the site, all their credentials (move-out)."""
    try:
        _print({"cursor": _store(db).delete_record(site, "person", person)})
    except HubError as exc:
        raise _fail(exc) from None


@levels_app.command("add")
def levels_add(
    db: Db,
    site: Site,
    level: Annotated[str, typer.Argument(help="Access level id.")],
    target: Annotated[list[str], typer.Option(help="Door or gate id (repeat).")],
    name: Annotated[str, typer.Option(help="Display name.")] = "",
    schedule: Annotated[
        str, typer.Option(help="A schedule named in the site's config, or always.")
    ] = "always",
) -> None:
    """Add or update an access level."""
    data = {"name": name, "schedule": schedule, "targets": target}
    _print({"cursor": _put(_store(db), site, "access_level", level, data), **data})


@groups_app.command("add")
def groups_add(
    db: Db,
    site: Site,
    group: Annotated[str, typer.Argument(help="Group id.")],
    level: Annotated[list[str], typer.Option(help="Access level id (repeat).")],
    name: Annotated[str, typer.Option(help="Display name.")] = "",
) -> None:
    """Add or update a group: its members get these access levels."""
    data = {"name": name, "levels": level}
    _print({"cursor": _put(_store(db), site, "group", group, data), **data})


@cards_app.command("add")
def cards_add(
    db: Db,
    site: Site,
    person: Annotated[str, typer.Option(help="Person id (created if new).")],
    number: Annotated[int | None, typer.Option(help="Card number (card kinds).")] = None,
    facility: Annotated[int | None, typer.Option(help="Facility code.")] = None,
    kind: Annotated[str, typer.Option(help="card, card_pin, pin or plate.")] = "card",
    fmt: Annotated[str, typer.Option("--format", help="Wiegand format name.")] = "h10301",
    pin: Annotated[str | None, typer.Option(help="PIN, for kind card_pin or pin.")] = None,
    valid_until: Annotated[str | None, typer.Option(help="ISO time with zone.")] = None,
) -> None:
    """Add a credential; print its id."""
    store = _store(db)
    data = {
        "kind": kind,
        "format": fmt,
        "facility": facility,
        "number": number,
        "person_id": person,
        "status": "active",
        "valid_until": valid_until,
        **({"pin": pin} if pin else {}),
    }
    data = _keyed(store, site, data)  # the PIN is never stored nor shown in clear
    _check("credential", 0, data)  # before the person is created
    if store.record(site, "person", person) is None:
        _put(store, site, "person", person, {"name": "", "role": "resident"})
    cid = store.next_credential_id(site)
    _print({"id": cid, "cursor": _put(store, site, "credential", cid, data), **data})


@cards_app.command("revoke")
def cards_revoke(
    db: Db, site: Site, card: Annotated[int, typer.Argument(help="Credential id.")]
) -> None:
    """Revoke a credential (the revocation reaches every door of the site on its next pull)."""
    store = _store(db)
    data = store.record(site, "credential", card)
    if data is None:
        typer.echo(f"error: no credential {card} for site {site!r}", err=True)
        raise typer.Exit(2)
    data["status"] = "revoked"
    _print({"id": card, "cursor": _put(store, site, "credential", card, data), **data})


@orders_app.command("add")
def orders_add(
    db: Db,
    site: Site,
    title: Annotated[str, typer.Option(help="What needs doing.")],
    priority: Annotated[
        str, typer.Option(help="service (15 min) or emergency (30 min).")
    ] = "service",
    target: Annotated[str | None, typer.Option(help="Device or place.")] = None,
    assignee: Annotated[str | None, typer.Option(help="Staff id who takes the order.")] = None,
    detail: Annotated[str, typer.Option(help="What is wrong, in words.")] = "",
    respond_min: Annotated[
        float | None, typer.Option(help="Override the response deadline.")
    ] = None,
    complete_h: Annotated[
        float | None, typer.Option(help="Override the completion deadline.")
    ] = None,
) -> None:
    """Open a work order for a site."""
    try:
        order = _store(db).create_workorder(
            site,
            title,
            priority=priority,
            target=target,
            assignee=assignee,
            detail=detail,
            respond_within=timedelta(minutes=respond_min) if respond_min else None,
            complete_within=timedelta(hours=complete_h) if complete_h else None,
        )
    except HubError as exc:
        raise _fail(exc) from None
    _print(order)


@orders_app.command("list")
def orders_list(db: Db, site: Site) -> None:
    """A site's work orders with their status and any missed deadline."""
    now = datetime.now(UTC)
    orders, _, _ = _store(db).workorders(site, 0, 100_000)
    _print([{**o, "missed": missed_deadlines(o, now)} for o in orders])


@orders_app.command("show")
def orders_show(db: Db, site: Site, order: Annotated[str, typer.Argument()]) -> None:
    """One work order and its status history."""
    store = _store(db)
    doc = store.workorder(site, order)
    if doc is None:
        typer.echo(f"error: no work order {order!r} for site {site!r}", err=True)
        raise typer.Exit(2)
    _print({**doc, "history": store.history(site, order)})


@orders_app.command("close")
def orders_close(
    db: Db,
    site: Site,
    order: Annotated[str, typer.Argument()],
    cancel: Annotated[bool, typer.Option(help="Cancel instead of completing.")] = False,
) -> None:
    """Close a work order after the customer confirmed (or cancel it)."""
    status = "cancelled" if cancel else "closed"
    update = {
        "update_id": f"hub:{secrets.token_hex(6)}",
        "status": status,
        "at": datetime.now(UTC).isoformat(),
        "by": "hub",
    }
    try:
        _store(db).set_status(site, order, update, by_hub=True)
    except HubError as exc:
        raise _fail(exc) from None
    typer.echo(f"{order}: {status}")
