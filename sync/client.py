"""The sync client: forward the journal to the hub, pull people and work orders, push statuses.

It is a pure consumer of the store, run by the daemon as one task; access decisions never
wait on it. Every step is idempotent and its progress lives in SQLite (``kv`` cursors,
``work_order_updates.pushed_at``), so a crash at any point resumes without loss or
duplicates. A failed step is counted by kind, logged, and retried with backoff and jitter.
"""

from __future__ import annotations

import asyncio
import base64
import inspect
import json
import random
import sqlite3
import ssl
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp
import structlog

from edgectl.backoff import backoff_delay
from edgectl.config import Config, Tls
from edgectl.site.service import SiteService
from edgectl.site.worker import fan_out
from edgectl.store import kv, pinkeys, workorders
from edgectl.store.journal import Entry, Journal
from edgectl.store.worker import DbWorker
from rules.access import pin_key_id
from sync import apply, metrics, outbox
from sync.codec import CONTRACT_VERSION, AckError, BatchError, gunzip, judge_ack
from sync.status import read_status

log = structlog.get_logger(__name__)

PULL_LIMIT = 1000
PUSH_ROUND_S = 2.0  # push at most this long before a round also pulls
SYNC_MARK_S = 60.0  # record the last sync time at most this often (it reloads access caches)


class SyncFailure(Exception):
    """A sync step failed. ``kind`` is one of: transport, timeout, server_error, unauthorized,
    rejected, bad_response, bad_ack, invalid_pull, incompatible, epoch_mismatch, store (the
    local database, e.g. disk full)."""

    def __init__(self, kind: str, message: str) -> None:
        self.kind = kind
        super().__init__(message)


def ssl_context(tls: Tls | None) -> ssl.SSLContext | None:
    if tls is None:
        return None
    ctx = ssl.create_default_context(cafile=tls.ca_file or None)
    if tls.cert_file:
        ctx.load_cert_chain(tls.cert_file, tls.key_file or None)
    if tls.insecure:
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    return ctx


def check_contract(doc: dict[str, Any]) -> None:
    """Refuse a hub whose contract version this site cannot speak (same major, minor at least
    ours); raise SyncFailure ``incompatible`` saying which side to upgrade."""
    theirs = doc.get("contract")
    ours = tuple(int(x) for x in CONTRACT_VERSION.split(".")[:2])
    try:
        major, minor = (int(x) for x in str(theirs).split(".")[:2])
    except ValueError:
        major, minor = 0, 0
    if major != ours[0] or minor < ours[1]:
        raise SyncFailure(
            "incompatible",
            f"the hub speaks sync contract {theirs or 'unknown (no version)'}; this site needs "
            f"{ours[0]}.{ours[1]} or a later {ours[0]}.x: "
            + ("upgrade the hub" if (major, minor) < ours else "upgrade edgectl on this site"),
        )


def _error(doc: dict[str, Any]) -> dict[str, Any]:
    raw = doc.get("error")
    return raw if isinstance(raw, dict) else {}


def _error_code(doc: dict[str, Any]) -> Any:
    return _error(doc).get("code")


def _error_text(status: int, doc: dict[str, Any]) -> str:
    err = _error(doc)
    return f"{status} {err.get('code', '?')}: {err.get('message', '')}".strip()


class SyncClient:
    """``SyncClient(config, db_path, journal=journal, on_applied=hook)``; ``await run()``.

    ``journal`` (optional) wakes the client as soon as new entries commit; without it the
    client polls every ``hub.interval_s``. ``on_applied`` (sync or async, no arguments) runs
    after pulled people/credential/level changes are committed, e.g. to reload an index;
    ``on_workorders`` gets the ids of pulled work orders once they are stored.
    """

    def __init__(
        self,
        config: Config,
        db_path: Path | str,
        *,
        journal: Journal | None = None,
        on_applied: Callable[[], Any] | None = None,
        on_workorders: Callable[[list[str]], Any] | None = None,
        rnd: Callable[[], float] = random.random,
    ) -> None:
        self.site = config.site.id
        self.hub = config.hub
        self._db_path = db_path
        self._db_worker: DbWorker | None = None  # opened on first use, closed when run ends
        self._config = config
        self._on_site_commit = fan_out(journal) if journal is not None else None
        self._site: SiteService | None = None  # on the worker's connection, made on first use
        self._journal = journal
        self._on_applied = on_applied
        self._on_workorders = on_workorders
        self._rnd = rnd
        self._wake = asyncio.Event()
        self._full_round = True  # pull on the first round and after any failure
        self._next_pull = 0.0
        self._next_sync_mark = 0.0
        self._base = self.hub.url.rstrip("/") + f"/v1/sites/{self.site}"
        self._keyring = pinkeys.keyring_path(db_path)

    async def run(self) -> None:
        """Sync until cancelled. Never raises for hub or network trouble."""
        watcher = wakeups = None
        if self._journal is not None:
            wakeups = self._journal.subscribe(maxsize=1)
            watcher = asyncio.create_task(self._watch(wakeups))
        timeout = aiohttp.ClientTimeout(total=self.hub.timeout_s)
        connector = aiohttp.TCPConnector(ssl=ssl_context(self.hub.tls) or True)
        headers = {"Authorization": f"Bearer {self.hub.token}", "Accept-Encoding": "gzip"}
        try:
            async with aiohttp.ClientSession(
                timeout=timeout, connector=connector, headers=headers, auto_decompress=False
            ) as http:
                await self._loop(http)
        finally:
            if watcher is not None and wakeups is not None and self._journal is not None:
                watcher.cancel()
                self._journal.unsubscribe(wakeups)
            if self._db_worker is not None:
                self._db_worker.close()
                self._db_worker = None  # a restart under the supervisor opens a fresh one

    async def _loop(self, http: aiohttp.ClientSession) -> None:
        failures = 0
        while True:
            try:
                caught_up = await self.sync_once(http)
                failures = 0
            except (SyncFailure, sqlite3.OperationalError) as error:  # a full disk: retry
                exc = error if isinstance(error, SyncFailure) else SyncFailure("store", str(error))
                self._full_round = True
                self._next_sync_mark = 0.0
                failures += 1
                delay = backoff_delay(
                    failures, self.hub.backoff_base_s, self.hub.backoff_max_s, self._rnd
                )
                await self._record_failure(exc, delay)
                await self._publish()
                await asyncio.sleep(delay)
                continue
            await self._publish()
            if caught_up:
                try:
                    await asyncio.wait_for(self._wake.wait(), self.hub.interval_s)
                except TimeoutError:
                    pass
                self._wake.clear()

    async def _watch(self, q: asyncio.Queue[Entry]) -> None:
        while True:
            await q.get()
            self._wake.set()

    async def sync_once(self, http: aiohttp.ClientSession) -> bool:
        """One round: push events; then, at most every ``interval_s`` (or after a failed
        round), pull changes and work orders and push statuses.

        Returns whether the event backlog is empty; raises SyncFailure on the first failure.
        """
        if self._full_round:
            _, health = await self._request(http, "GET", "/v1/health", absolute=True)
            check_contract(health)
        caught_up = await self._push_events(http)
        loop = asyncio.get_running_loop()
        if self._full_round or loop.time() >= self._next_pull:
            self._full_round = False
            await self._pull_pin_key(http)
            await self._pull_changes(http)
            await self._pull_workorders(http)
            await self._push_statuses(http)
            self._next_pull = loop.time() + self.hub.interval_s
            if loop.time() >= self._next_sync_mark:
                await self._db(outbox.record_sync, datetime.now(UTC))
                self._next_sync_mark = loop.time() + SYNC_MARK_S
        return caught_up

    # --- plumbing -----------------------------------------------------------------------

    async def _db(self, fn: Callable[..., Any], *args: Any, **kw: Any) -> Any:
        if self._db_worker is None:
            self._db_worker = DbWorker(self._db_path, "sync-db")
        return await self._db_worker.call(fn, *args, **kw)

    async def _request(
        self,
        http: aiohttp.ClientSession,
        method: str,
        path: str,
        *,
        absolute: bool = False,
        **kw: Any,
    ) -> tuple[int, dict[str, Any]]:
        """Send a request (``path`` under the site's base, or under the hub's with
        ``absolute``); return (status, JSON object). 5xx, auth errors, transport faults,
        bodies that are too large or not a JSON object raise SyncFailure."""
        limit = self.hub.max_response_bytes
        url = (self.hub.url.rstrip("/") if absolute else self._base) + path
        try:
            async with http.request(method, url, **kw) as resp:
                if (resp.content_length or 0) > limit:
                    raise SyncFailure(
                        "bad_response",
                        f"{method} {path}: response of {resp.content_length} bytes exceeds {limit}",
                    )
                raw = bytearray()
                async for chunk in resp.content.iter_chunked(1 << 16):
                    raw += chunk
                    if len(raw) > limit:
                        raise SyncFailure(
                            "bad_response", f"{method} {path}: response exceeds {limit} bytes"
                        )
                status = resp.status
                gzipped = resp.headers.get("Content-Encoding", "").lower() == "gzip"
        except TimeoutError:
            raise SyncFailure(
                "timeout", f"{method} {path}: no answer within {self.hub.timeout_s}s"
            ) from None
        except aiohttp.ClientError as exc:
            raise SyncFailure(
                "transport", f"{method} {path}: {type(exc).__name__}: {exc}"
            ) from None
        if status >= 500:
            raise SyncFailure(
                "server_error", f"{method} {path}: hub answered {status}: {bytes(raw[:200])!r}"
            )
        try:
            doc = json.loads(gunzip(bytes(raw), limit) if gzipped else raw)
        except (BatchError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            doc = exc
        if status in (401, 403):
            text = _error_text(status, doc) if isinstance(doc, dict) else str(status)
            raise SyncFailure("unauthorized", f"{method} {path}: {text}")
        if isinstance(doc, Exception):
            raise SyncFailure("bad_response", f"{method} {path}: malformed JSON ({status}): {doc}")
        if not isinstance(doc, dict):
            raise SyncFailure("bad_response", f"{method} {path}: expected a JSON object ({status})")
        return status, doc

    async def _record_failure(self, exc: SyncFailure, retry_in: float) -> None:
        metrics.FAILURES.labels(exc.kind).inc()
        log.warning("sync_failed", kind=exc.kind, error=str(exc), retry_in_s=round(retry_in, 3))

        def save(conn: sqlite3.Connection) -> None:
            counts = json.loads(kv.get(conn, kv.FAILURES, "{}"))
            counts[exc.kind] = counts.get(exc.kind, 0) + 1
            kv.put(conn, kv.FAILURES, json.dumps(counts, sort_keys=True))
            last = {"kind": exc.kind, "message": str(exc), "at": datetime.now(UTC).isoformat()}
            kv.put(conn, kv.LAST_ERROR, json.dumps(last))

        try:
            await self._db(save)
        except sqlite3.OperationalError as err:  # the disk is full: the log and metric count
            log.warning("sync_failure_not_recorded", error=str(err))

    async def _publish(self) -> None:
        metrics.publish(await self._db(read_status, datetime.now(UTC)))

    # --- forwarding the journal -----------------------------------------------------------

    async def _push_events(self, http: aiohttp.ClientSession) -> bool:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + PUSH_ROUND_S
        while loop.time() < deadline:
            pending = await self._db(
                outbox.next_batch, self.site, self.hub.batch_max_events, self.hub.batch_max_bytes
            )
            if pending is None:
                return True
            cursor = pending.from_seq - 1
            status, doc = await self._request(
                http,
                "POST",
                "/events",
                data=pending.body,
                headers={"Content-Encoding": "gzip", "Content-Type": "application/json"},
            )
            code = _error_code(doc) if status != 200 else None
            gap = status == 409 and code == "gap"
            if status == 409 and code == "epoch_mismatch":
                raise SyncFailure("epoch_mismatch", _error_text(status, doc))
            if status != 200 and not gap:
                raise SyncFailure(
                    "rejected",
                    f"hub refused batch {pending.from_seq}..{pending.to_seq}: "
                    + _error_text(status, doc),
                )
            try:
                new = judge_ack(cursor, pending.head, doc.get("acked_seq"))
            except AckError as exc:
                raise SyncFailure(
                    "bad_ack", f"batch {pending.from_seq}..{pending.to_seq}: {exc}"
                ) from None
            if new == cursor:
                raise SyncFailure(
                    "bad_ack", f"hub stored nothing of batch {pending.from_seq}..{pending.to_seq}"
                )
            if new < cursor:
                log.warning("sync_hub_ack_regressed", cursor=cursor, hub_acked=new)
            elif gap:
                log.info("sync_hub_ahead", cursor=cursor, hub_acked=new)
            await self._db(outbox.set_cursor, new)
            metrics.EVENTS_SENT.inc(max(new - cursor, 0))
        return False

    # --- pulling people, credentials, access levels ---------------------------------------

    async def _pull_pin_key(self, http: aiohttp.ClientSession) -> None:
        """Keep the site's PIN key (for the keyed PIN digests the hub sends) in its file."""
        status, doc = await self._request(http, "GET", "/pin-key")
        if status != 200:
            raise SyncFailure("rejected", f"pin key: {_error_text(status, doc)}")
        try:
            key = base64.b64decode(str(doc.get("key")), validate=True)
        except ValueError:
            key = b""
        if len(key) != pinkeys.KEY_BYTES:
            raise SyncFailure("bad_response", "pin key: not a 32-byte key in base64")
        try:
            if await asyncio.to_thread(pinkeys.add_key, self._keyring, key):
                log.info("sync_pin_key_stored", key_id=pin_key_id(key), path=str(self._keyring))
        except (OSError, ValueError) as exc:
            raise SyncFailure("invalid_pull", f"pin key not stored: {exc}") from None

    async def _pull_changes(self, http: aiohttp.ClientSession) -> None:
        cursor = int(await self._db(kv.get, kv.CHANGES_CURSOR, "0"))
        while True:
            status, doc = await self._request(
                http, "GET", "/changes", params={"after": cursor, "limit": PULL_LIMIT}
            )
            replace = status == 410
            if replace:
                log.warning("sync_full_resync", cursor=cursor, reason=_error_text(status, doc))
                status, doc = await self._request(http, "GET", "/snapshot")
            if status != 200:
                raise SyncFailure(
                    "rejected", f"pull after cursor {cursor}: {_error_text(status, doc)}"
                )
            records = doc.get("records") if replace else doc.get("changes")
            new = doc.get("cursor") if replace else doc.get("next_cursor")
            if not isinstance(new, int) or isinstance(new, bool) or (new < cursor and not replace):
                raise SyncFailure(
                    "bad_response", f"pull after cursor {cursor}: bad cursor {new!r:.40}"
                )
            try:
                changes = apply.parse_changes(records)
                if changes or replace or new != cursor:
                    await self._db(self._apply_pulled, changes, new, replace)
            except apply.InvalidRecord as exc:
                raise SyncFailure(
                    "invalid_pull", f"pulled batch after cursor {cursor} not applied: {exc}"
                ) from None
            if changes or replace:
                metrics.CHANGES_APPLIED.inc(len(changes))
                log.info("sync_changes_applied", records=len(changes), cursor=new, resync=replace)
                await self._notify_applied()
            cursor = new
            if not doc.get("more"):
                return

    def _apply_pulled(
        self, conn: sqlite3.Connection, changes: list[apply.Change], cursor: int, replace: bool
    ) -> None:
        """On the worker thread: through the site service, audited as the hub's change."""
        self._site_on(conn).apply_hub_changes(changes, cursor, replace=replace)

    def _store_orders(
        self, conn: sqlite3.Connection, orders: list[dict[str, Any]], cursor: int
    ) -> None:
        self._site_on(conn).store_hub_orders(orders, cursor)

    def _site_on(self, conn: sqlite3.Connection) -> SiteService:
        """The site service on the worker's connection (a restarted worker has a new one)."""
        if self._site is None or self._site.conn is not conn:
            self._site = SiteService(conn, self._config, self._on_site_commit)
        return self._site

    async def _notify_applied(self) -> None:
        if self._on_applied is not None:
            result = self._on_applied()
            if inspect.isawaitable(result):
                await result

    # --- work orders ------------------------------------------------------------------------

    async def _pull_workorders(self, http: aiohttp.ClientSession) -> None:
        cursor = int(await self._db(kv.get, kv.WORKORDERS_CURSOR, "0"))
        while True:
            status, doc = await self._request(
                http, "GET", "/workorders", params={"after": cursor, "limit": PULL_LIMIT}
            )
            if status != 200:
                raise SyncFailure(
                    "rejected", f"work orders after {cursor}: {_error_text(status, doc)}"
                )
            new, raw = doc.get("next_cursor"), doc.get("workorders")
            if (
                not isinstance(new, int)
                or isinstance(new, bool)
                or new < cursor
                or not isinstance(raw, list)
            ):
                raise SyncFailure("bad_response", f"work orders after {cursor}: malformed page")
            try:
                orders = [workorders.validate_order(o) for o in raw]
            except workorders.WorkOrderError as exc:
                raise SyncFailure(
                    "invalid_pull", f"work orders after {cursor} not applied: {exc}"
                ) from None
            if orders or new != cursor:
                await self._db(self._store_orders, orders, new)
            if orders and self._on_workorders is not None:
                self._on_workorders([o["id"] for o in orders])
            cursor = new
            if not doc.get("more"):
                return

    async def _push_statuses(self, http: aiohttp.ClientSession) -> None:
        for up in await self._db(workorders.unpushed):
            status, doc = await self._request(
                http,
                "POST",
                f"/workorders/{up.order_id}/status",
                json={
                    "update_id": f"{self.site}:{up.row_id}",
                    "status": up.status,
                    "at": up.at,
                    "by": up.by,
                    "note": up.note,
                },
            )
            rejected = None if status == 200 else _error_text(status, doc)
            if rejected:
                log.error(
                    "sync_status_rejected", order=up.order_id, status=up.status, reason=rejected
                )
            await self._db(workorders.mark_pushed, up.row_id, datetime.now(UTC), rejected)
