"""Evidence thumbnails to the reference hub: the route, its schema, and the site's uploader."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import aiohttp
import cv2
import numpy as np

from drivers.sim.camera_frames import encode_jpeg, render, scene
from edgectl.config import parse
from edgectl.domain import EvidenceCaptured
from edgectl.store.evidence import EvidenceStore, new_id
from sync.evidence import EvidenceUploader
from sync.hub.store import HubStore
from tests.camera_rig import until
from tests.conftest import RefHub
from tests.contract import problems
from tests.tasks import background

PATH = "/v1/sites/{site}/evidence/{evidence}"
JPEG = encode_jpeg(render(scene(), "normal", 1))


async def post(
    hub: RefHub, evidence_id: str, body: bytes, token: str | None = None
) -> tuple[int, dict]:  # type: ignore[type-arg]
    headers = {"Authorization": f"Bearer {token or hub.token}", "Content-Type": "image/jpeg"}
    async with (
        aiohttp.ClientSession() as http,
        http.post(
            f"{hub.url}/v1/sites/site-a/evidence/{evidence_id}", data=body, headers=headers
        ) as r,
    ):
        return r.status, await r.json()


async def test_the_hub_stores_thumbnails_once_and_refuses_what_is_not_one(ref_hub: RefHub) -> None:
    evidence_id = new_id("gate-cam", datetime.now(UTC))
    status, doc = await post(ref_hub, evidence_id, JPEG)
    assert status == 200 and doc == {"evidence_id": evidence_id, "stored": True, "bytes": len(JPEG)}
    assert not problems(PATH, "POST", status, json.dumps(doc).encode())
    status, doc = await post(ref_hub, evidence_id, JPEG)
    assert (status, doc["stored"]) == (200, False)
    status, doc = await post(ref_hub, new_id("gate-cam", datetime.now(UTC)), b"<html>")
    assert (status, doc["error"]["code"]) == (400, "bad_request")
    assert not problems(PATH, "POST", status, json.dumps(doc).encode())
    status, doc = await post(ref_hub, "../../secrets", JPEG)
    assert status in (400, 404)
    status, doc = await post(
        ref_hub, new_id("c", datetime.now(UTC)), b"\xff\xd8\xff" + bytes(2 << 20)
    )
    assert (status, doc["error"]["code"]) == (413, "payload_too_large")
    status, doc = await post(ref_hub, evidence_id, JPEG, token="not-the-token")
    assert status == 401
    # every answer above was also checked against the contract by the ref_hub fixture


async def chunked(hub: RefHub, evidence_id: str, size: int) -> tuple[int, str]:
    """POST a JPEG of ``size`` bytes with no Content-Length (chunked): the cap still holds."""

    async def body() -> AsyncIterator[bytes]:
        yield JPEG[:3]
        for _ in range(size // 65536):
            yield bytes(65536)
        yield b"\xff\xd9"

    headers = {"Authorization": f"Bearer {hub.token}", "Content-Type": "image/jpeg"}
    async with (
        aiohttp.ClientSession() as http,
        http.post(
            f"{hub.url}/v1/sites/site-a/evidence/{evidence_id}", data=body(), headers=headers
        ) as r,
    ):
        return r.status, (await r.json())["error"]["code"] if r.status != 200 else ""


async def test_the_evidence_route_keeps_the_contract_bounds(ref_hub: RefHub) -> None:
    """Ids the contract's pattern refuses, a chunked body past 1 MiB, a missing frame, a
    disabled site: each its documented status (the fixture validates every answer)."""
    good = new_id("gate-cam", datetime.now(UTC))
    for bad in (good + "%0A", "\u0660" * 8 + good[8:], good.replace("-", "-" + "c" * 65, 1)):
        status, doc = await post(ref_hub, bad, JPEG)
        assert (status, doc["error"]["code"]) == (400, "bad_request"), bad
    assert await chunked(ref_hub, good, 2 << 20) == (413, "payload_too_large")
    assert await chunked(ref_hub, good, 1 << 16) == (200, "")
    headers = {"Authorization": f"Bearer {ref_hub.token}"}
    async with aiohttp.ClientSession(headers=headers) as http:
        missing = new_id("gate-cam", datetime.now(UTC))
        async with http.get(f"{ref_hub.url}/v1/sites/site-a/evidence/{missing}") as r:
            assert (r.status, (await r.json())["error"]["code"]) == (404, "not_found")
        async with http.get(f"{ref_hub.url}/v1/sites/site-a/evidence/{good}") as r:
            assert (r.status, r.content_type) == (200, "image/jpeg")
    store = HubStore(ref_hub.db)
    store.set_disabled("site-a", True)
    store.close()
    status, doc = await post(ref_hub, new_id("gate-cam", datetime.now(UTC)), JPEG)
    assert (status, doc["error"]["code"]) == (401, "unauthorized")
    store = HubStore(ref_hub.db)
    store.delete_site("site-a")
    assert store.conn.execute("SELECT count(*) FROM evidence").fetchone()[0] == 0
    store.close()


def site(tmp_path: Path, hub: RefHub) -> str:
    return (
        f'[site]\nid = "site-a"\n[store]\npath = "{tmp_path / "edge.db"}"\n'
        f'[hub]\nenabled = true\nurl = "{hub.url}"\ntoken = "{hub.token}"\n'
        "backoff_base_s = 0.05\nbackoff_max_s = 0.2\ninterval_s = 0.2\n"
        f'[cameras]\nstore_path = "{tmp_path / "evidence"}"\nthumbnail_px = 160\n'
    )


async def test_the_uploader_sends_thumbnails_oldest_first_and_survives_a_hub_outage(
    tmp_path: Path, ref_hub: RefHub
) -> None:
    config = parse(site(tmp_path, ref_hub))
    store = EvidenceStore(tmp_path / "evidence", 10**8, 10**7)
    t0 = datetime(2026, 11, 30, tzinfo=UTC)
    ids = [new_id("gate-cam", t0 + timedelta(seconds=i)) for i in range(3)]
    for evidence_id in ids[:2]:
        store.put(evidence_id, JPEG)
    uploader = EvidenceUploader(config, store)
    async with background(uploader.run()):
        await until(lambda: uploader.cursor() == ids[1])
        await ref_hub.stop()
        store.put(ids[2], JPEG)
        uploader.observe(
            EvidenceCaptured(
                source="gate-cam",
                at=t0,
                evidence_id=ids[2],
                trigger="access",
                ref="r",
                bytes=1,
                path="snapshot",
            )
        )
        await asyncio.sleep(0.5)  # the hub is down: the cursor must not move past ids[1]
        assert uploader.cursor() == ids[1]
        await ref_hub.start()
        await until(lambda: uploader.cursor() == ids[2])
    async with (
        aiohttp.ClientSession(headers={"Authorization": f"Bearer {ref_hub.token}"}) as http,
        http.get(f"{ref_hub.url}/v1/sites/site-a/evidence/{ids[2]}") as resp,
    ):
        thumb = await resp.read()
    img = cv2.imdecode(np.frombuffer(thumb, np.uint8), cv2.IMREAD_COLOR)
    assert img.shape[1] == 160 and uploader.sent == 3
