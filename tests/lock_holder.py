"""Hold the store's write lock from another process: ``python -m tests.lock_holder DB SECONDS``.

Prints ``locked`` once ``BEGIN IMMEDIATE`` holds (with a write pending), then holds for at
least SECONDS, and longer until a line arrives on stdin (or stdin closes); then commits
and prints ``released``. Used by the write-lock test and ``bench/access_path.py``.
"""

from __future__ import annotations

import sqlite3
import sys
import time


def main(path: str, seconds: float) -> None:
    conn = sqlite3.connect(path, isolation_level=None, timeout=30)
    conn.execute("BEGIN IMMEDIATE")
    conn.execute(
        "INSERT INTO kv (key, value) VALUES ('test.lock_holder', '1') "
        "ON CONFLICT (key) DO UPDATE SET value = CAST(value AS INTEGER) + 1"
    )
    held_from = time.monotonic()
    print("locked", flush=True)
    sys.stdin.readline()
    time.sleep(max(0.0, seconds - (time.monotonic() - held_from)))
    conn.execute("COMMIT")
    print(f"released {time.monotonic() - held_from:.3f}", flush=True)


if __name__ == "__main__":
    main(sys.argv[1], float(sys.argv[2]))
