"""The schema, as an ordered list of migrations. Append only; never edit a released entry."""

from __future__ import annotations

MIGRATIONS: list[str] = [
    # 1: the journal, the outbox cursor, people and credentials, access levels.
    """
    CREATE TABLE journal (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        at TEXT NOT NULL,
        kind TEXT NOT NULL,
        cls TEXT NOT NULL,
        source TEXT NOT NULL,
        body TEXT NOT NULL,
        schema_version INTEGER NOT NULL
    );
    CREATE INDEX journal_kind ON journal (kind, seq);
    CREATE TABLE kv (
        key TEXT PRIMARY KEY,
        value TEXT NOT NULL
    );
    CREATE TABLE people (
        id TEXT PRIMARY KEY,
        name TEXT NOT NULL DEFAULT '',
        role TEXT NOT NULL DEFAULT 'resident',
        butler_id TEXT,
        notify_arrival INTEGER NOT NULL DEFAULT 0,
        extended_access INTEGER NOT NULL DEFAULT 0
    );
    CREATE TABLE credentials (
        id INTEGER PRIMARY KEY,
        kind TEXT NOT NULL DEFAULT 'card',
        format TEXT NOT NULL DEFAULT '',
        facility INTEGER,
        number INTEGER,
        secret TEXT,
        person_id TEXT NOT NULL REFERENCES people (id),
        status TEXT NOT NULL DEFAULT 'active',
        valid_from TEXT,
        valid_until TEXT,
        updated_at TEXT NOT NULL
    );
    CREATE UNIQUE INDEX credentials_card ON credentials (number, facility, kind)
        WHERE kind IN ('card', 'card_pin');
    CREATE INDEX credentials_person ON credentials (person_id);
    CREATE TABLE access_levels (
        id TEXT PRIMARY KEY,
        name TEXT NOT NULL DEFAULT '',
        schedule TEXT NOT NULL DEFAULT 'always'
    );
    CREATE TABLE access_level_targets (
        level_id TEXT NOT NULL REFERENCES access_levels (id) ON DELETE CASCADE,
        target TEXT NOT NULL,
        PRIMARY KEY (level_id, target)
    );
    CREATE TABLE person_levels (
        person_id TEXT NOT NULL REFERENCES people (id) ON DELETE CASCADE,
        level_id TEXT NOT NULL REFERENCES access_levels (id) ON DELETE CASCADE,
        PRIMARY KEY (person_id, level_id)
    );
    """,
    # 2: access policy data: PINs and duress PINs, groups, visitor passes, anti-passback.
    """
    ALTER TABLE credentials ADD COLUMN pin TEXT;
    ALTER TABLE credentials ADD COLUMN duress TEXT;
    CREATE UNIQUE INDEX credentials_secret ON credentials (secret, kind);
    CREATE UNIQUE INDEX credentials_card_number ON credentials (number, facility)
        WHERE kind IN ('card', 'card_pin');
    CREATE INDEX credentials_duress ON credentials (duress) WHERE kind = 'pin';
    CREATE TABLE groups (
        id TEXT PRIMARY KEY,
        name TEXT NOT NULL DEFAULT ''
    );
    CREATE TABLE group_levels (
        group_id TEXT NOT NULL REFERENCES groups (id) ON DELETE CASCADE,
        level_id TEXT NOT NULL REFERENCES access_levels (id) ON DELETE CASCADE,
        PRIMARY KEY (group_id, level_id)
    );
    CREATE TABLE person_groups (
        person_id TEXT NOT NULL REFERENCES people (id) ON DELETE CASCADE,
        group_id TEXT NOT NULL REFERENCES groups (id) ON DELETE CASCADE,
        PRIMARY KEY (person_id, group_id)
    ) WITHOUT ROWID;
    CREATE TABLE visitor_passes (
        credential_id INTEGER PRIMARY KEY REFERENCES credentials (id) ON DELETE CASCADE,
        host_id TEXT NOT NULL REFERENCES people (id),
        max_uses INTEGER NOT NULL DEFAULT 1,
        uses INTEGER NOT NULL DEFAULT 0,
        targets TEXT NOT NULL
    );
    CREATE TABLE antipassback (
        person_id TEXT NOT NULL,
        scope TEXT NOT NULL,
        state TEXT NOT NULL,
        at TEXT NOT NULL,
        PRIMARY KEY (person_id, scope)
    ) WITHOUT ROWID;
    """,
    # 3: sync (issue 5): work orders pulled from the hub and their status changes to push back;
    # which credentials came from the hub.
    # Kept as one entry so it can be renumbered on merge.
    """
    CREATE TABLE work_orders (
        id TEXT PRIMARY KEY,
        kind TEXT NOT NULL,
        priority TEXT NOT NULL,
        title TEXT NOT NULL,
        detail TEXT NOT NULL DEFAULT '',
        target TEXT,
        assignee TEXT,
        status TEXT NOT NULL,
        created_at TEXT NOT NULL,
        respond_by TEXT NOT NULL,
        complete_by TEXT NOT NULL,
        updated_at TEXT NOT NULL
    );
    CREATE TABLE work_order_updates (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        order_id TEXT NOT NULL REFERENCES work_orders (id),
        status TEXT NOT NULL,
        at TEXT NOT NULL,
        by TEXT NOT NULL DEFAULT '',
        note TEXT NOT NULL DEFAULT '',
        pushed_at TEXT,
        rejected TEXT  -- the hub's reason when it refused the update (pushed_at is then set too)
    );
    CREATE INDEX work_order_updates_unpushed ON work_order_updates (id) WHERE pushed_at IS NULL;
    ALTER TABLE credentials ADD COLUMN hub_id INTEGER;  -- the hub's id; NULL: created on site
    CREATE UNIQUE INDEX credentials_hub ON credentials (hub_id) WHERE hub_id IS NOT NULL;
    """,
    # 4: a card with no facility code is unique by its number alone (SQLite's UNIQUE lets
    # NULL facilities repeat, so migration 2's index did not catch these duplicates).
    """
    CREATE UNIQUE INDEX credentials_card_no_facility ON credentials (number)
        WHERE facility IS NULL AND kind IN ('card', 'card_pin');
    """,
    # 5 (issue 10): a card matches on its format; cards stored before with no format are
    # the default format they were enrolled with.
    """
    UPDATE credentials SET format = 'h10301' WHERE format = '' AND kind IN ('card', 'card_pin');
    """,
    # 6 (issue 12): the journal epoch, chosen when the database is created (or upgraded), so
    # the hub tells a wiped or replaced site's journal from the one it already holds.
    """
    INSERT OR IGNORE INTO kv (key, value) VALUES ('journal.epoch', lower(hex(randomblob(8))));
    """,
    # 7: issue 16: work orders kept on site (sources, fault keys, transitions with who/when,
    # escalations sent), patrol tours and their checkpoints, daily facility availability.
    # Kept as one entry so it can be renumbered on merge.
    """
    ALTER TABLE work_orders ADD COLUMN source TEXT NOT NULL DEFAULT 'hub';
    ALTER TABLE work_orders ADD COLUMN role TEXT;
    ALTER TABLE work_orders ADD COLUMN fault_key TEXT;
    CREATE INDEX work_orders_fault ON work_orders (fault_key) WHERE fault_key IS NOT NULL;
    CREATE INDEX work_orders_created ON work_orders (created_at);
    ALTER TABLE work_order_updates ADD COLUMN channel TEXT NOT NULL DEFAULT '';
    ALTER TABLE work_order_updates ADD COLUMN estimated_fix_at TEXT;
    ALTER TABLE work_order_updates ADD COLUMN verdict TEXT;
    CREATE INDEX work_order_updates_order ON work_order_updates (order_id, id);
    CREATE TABLE work_order_escalations (
        order_id TEXT NOT NULL REFERENCES work_orders (id),
        stage TEXT NOT NULL,
        level INTEGER NOT NULL,
        at TEXT NOT NULL,
        to_staff TEXT NOT NULL,
        PRIMARY KEY (order_id, stage, level)
    ) WITHOUT ROWID;
    CREATE TABLE patrol_tours (
        id TEXT PRIMARY KEY,
        route TEXT NOT NULL,
        guard TEXT NOT NULL,
        started_at TEXT NOT NULL,
        started_by TEXT NOT NULL,
        status TEXT NOT NULL,
        last_seen TEXT,
        silence_alarmed INTEGER NOT NULL DEFAULT 0,
        ended_at TEXT
    );
    CREATE INDEX patrol_tours_active ON patrol_tours (status) WHERE status = 'active';
    CREATE INDEX patrol_tours_route ON patrol_tours (route, started_at);
    CREATE TABLE patrol_checkpoints (
        tour_id TEXT NOT NULL REFERENCES patrol_tours (id),
        checkpoint TEXT NOT NULL,
        result TEXT NOT NULL,
        at TEXT NOT NULL,
        badged_at TEXT,
        PRIMARY KEY (tour_id, checkpoint)
    ) WITHOUT ROWID;
    CREATE TABLE facility_days (
        device TEXT NOT NULL,
        day TEXT NOT NULL,
        up_s REAL NOT NULL,
        total_s REAL NOT NULL,
        outages INTEGER NOT NULL,
        final_online INTEGER NOT NULL,
        final_fault INTEGER NOT NULL,
        PRIMARY KEY (device, day)
    ) WITHOUT ROWID;
    """,
    # 8 (issue 13): schedules and holidays kept as site data (added from the CLI, beside the
    # config's); windows: a JSON list of "mon-fri 07:00-19:00" texts
    """
    CREATE TABLE site_schedules (
        id TEXT PRIMARY KEY,
        name TEXT NOT NULL,
        windows TEXT NOT NULL
    ) WITHOUT ROWID;
    CREATE TABLE site_holidays (
        day TEXT PRIMARY KEY,
        type TEXT NOT NULL,
        name TEXT NOT NULL
    ) WITHOUT ROWID;
    """,
]
