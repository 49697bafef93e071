"""Schedules and holidays kept as site data (added from the CLI), beside the config's.

Rows are read back through the config's own types and parsers (``Schedule.from_windows``,
``parse_window``, ``Holiday``): one syntax, one set of checks. Only the site service
writes these tables; the access index and the listings read them.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable
from datetime import date

import structlog

from edgectl.store.credentials import CredentialError
from rules.policy import SitePolicy
from rules.schedule import format_window, parse_window
from rules.settings import Holiday, Schedule

log = structlog.get_logger(__name__)

DEFAULT_HOLIDAY_TYPE = "holiday"  # a type no schedule has segments for: closed all day


def parse_schedule(schedule_id: str, windows: Iterable[str], name: str = "") -> Schedule:
    """A checked schedule from window texts, or CredentialError naming the bad part."""
    texts = list(windows)
    if not texts:
        raise CredentialError("window: expected at least one, like 'mon-fri 07:00-19:00'")
    parsed = []
    for text in texts:
        try:
            parsed.append(parse_window(text))
        except ValueError as exc:
            raise CredentialError(f"window {text!r}: {exc}") from None
    if not schedule_id:
        raise CredentialError("schedule id: expected a non-empty id")
    try:
        return Schedule.from_windows(schedule_id, parsed, name)
    except ValueError as exc:  # Invalid: the key is "id" or the day with too many segments
        raise CredentialError(f"schedule {exc}") from None


def parse_day(text: str) -> str:
    """A local date in ISO form (YYYY-MM-DD), checked as the config checks its holidays."""
    try:
        Holiday(text, DEFAULT_HOLIDAY_TYPE).validate()
    except ValueError as exc:
        raise CredentialError(str(exc)) from None
    return date.fromisoformat(text).isoformat()


def config_days(holidays: Iterable[Holiday]) -> set[str]:
    """The config's holiday dates, in the form ``parse_day`` returns."""
    return {date.fromisoformat(h.date).isoformat() for h in holidays}


def schedule_row(schedule: Schedule) -> tuple[str, str, str]:
    """The stored form: id, name and the windows as a JSON list of texts."""
    windows = [format_window(w) for w in schedule.windows()]
    return schedule.id, schedule.name, json.dumps(windows)


def schedules(conn: sqlite3.Connection) -> list[Schedule]:
    """The stored schedules by id; a row that no longer parses is logged and left out."""
    found = []
    for schedule_id, name, windows in conn.execute(
        "SELECT id, name, windows FROM site_schedules ORDER BY id"
    ):
        try:
            parsed = [parse_window(text) for text in json.loads(windows)]
            found.append(Schedule.from_windows(schedule_id, parsed, name))
        except ValueError as exc:
            log.error("site_schedule_unreadable", schedule=schedule_id, error=str(exc))
    return found


def holidays(conn: sqlite3.Connection) -> list[tuple[Holiday, str]]:
    """The stored holidays by date, each with its name."""
    rows = conn.execute("SELECT day, type, name FROM site_holidays ORDER BY day")
    return [(Holiday(day, kind), name) for day, kind, name in rows]


def site_policy(base: SitePolicy, conn: sqlite3.Connection) -> SitePolicy:
    """``base`` (from the config) with the stored schedules and holidays. One the config
    also defines keeps the config's definition, and is logged."""
    stored = schedules(conn)
    days = [holiday for holiday, _ in holidays(conn)]
    for schedule in stored:
        if schedule.id in base.plans:
            log.error("site_schedule_shadowed_by_config", schedule=schedule.id)
    return base.with_site_data(stored, days)
