"""``edgectl camera status|snapshot`` and ``edgectl discover onvif``, run as an installer would."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from wsdiscovery import Scope
from wsdiscovery.publishing import ThreadedWSPublishing

from drivers.onvif.discovery import ONVIF_NVT, found, scope_values
from drivers.sim.camera import SimCamera
from edgectl import tomlw
from tests.cli_helpers import edgectl


def camera_config(tmp_path: Path, sim: SimCamera, password: str = "secret") -> Path:
    path = tmp_path / "config.toml"
    path.write_text(
        tomlw.dumps(
            {
                "site": {"id": "s1"},
                "store": {"path": str(tmp_path / "edge.db")},
                "cameras": {
                    "store_path": str(tmp_path / "evidence"),
                    "devices": [
                        {
                            "id": "gate-cam",
                            "host": "127.0.0.1",
                            "port": sim.port,
                            "username": "admin",
                            "password": password,
                            "timeout_s": 3.0,
                        }
                    ],
                },
            }
        )
    )
    return path


async def test_status_and_snapshot_against_the_simulated_camera(tmp_path: Path) -> None:
    sim = SimCamera(skew_s=-7200)
    await sim.start()
    try:
        config = camera_config(tmp_path, sim)
        shown = await asyncio.to_thread(
            edgectl, "camera", "status", "gate-cam", "--json", "-c", str(config)
        )
        assert shown.returncode == 0, shown.stderr
        doc = json.loads(shown.stdout)
        assert doc["model"] == "SimDome 360" and doc["ptz"] is True
        assert abs(doc["clock_skew_s"] + 7200) < 2
        out = tmp_path / "frame.jpg"
        taken = await asyncio.to_thread(
            edgectl, "camera", "snapshot", "gate-cam", "-o", str(out), "-c", str(config)
        )
        assert taken.returncode == 0, taken.stderr
        assert out.read_bytes()[:2] == b"\xff\xd8"
        unknown = await asyncio.to_thread(edgectl, "camera", "status", "nope", "-c", str(config))
        assert unknown.returncode == 2 and "no camera 'nope'" in unknown.stderr
        bad = camera_config(tmp_path, sim, password="wrong")
        refused = await asyncio.to_thread(edgectl, "camera", "status", "gate-cam", "-c", str(bad))
        assert refused.returncode == 1 and "refused our credentials" in refused.stderr
    finally:
        await sim.stop()


async def test_a_camera_without_snapshots_gives_its_frame_over_rtsp(tmp_path: Path) -> None:
    sim = SimCamera()
    sim.soap_faults.add("GetSnapshotUri")
    await sim.start()
    try:
        config = camera_config(tmp_path, sim)
        shown = await asyncio.to_thread(
            edgectl, "camera", "status", "gate-cam", "--json", "-c", str(config)
        )
        assert shown.returncode == 0, shown.stderr
        doc = json.loads(shown.stdout)
        assert doc["snapshot_uri"] is None and doc["stream_uri"] == sim.rtsp.url
        assert "secret" not in shown.stdout  # the URI shown carries no credentials
        out = tmp_path / "frame.jpg"
        taken = await asyncio.to_thread(
            edgectl, "camera", "snapshot", "gate-cam", "-o", str(out), "-c", str(config)
        )
        assert taken.returncode == 0, taken.stderr
        assert out.read_bytes()[:2] == b"\xff\xd8"
        assert "PLAY" in sim.rtsp.requests and sim.snapshots == 0 and sim.auth_failures == 0
    finally:
        await sim.stop()


@pytest.fixture
def published_camera() -> Iterator[None]:
    publisher = ThreadedWSPublishing()
    publisher.start()
    publisher.publishService(
        types=[ONVIF_NVT],
        scopes=[
            Scope("onvif://www.onvif.org/hardware/SimDome360"),
            Scope("onvif://www.onvif.org/name/Gate%20dome"),
        ],
        xAddrs=["http://127.0.0.1:8899/onvif/device_service"],
    )
    yield
    publisher.stop()


def test_discover_finds_a_camera_announced_on_loopback(published_camera: None) -> None:
    result = edgectl("discover", "onvif", "--timeout", "2", "--json")
    assert result.returncode == 0, result.stderr
    cams = json.loads(result.stdout)
    assert any(
        c["address"] == "127.0.0.1:8899" and c["model"] == "SimDome360" and c["name"] == "Gate dome"
        for c in cams
    ), cams


names = st.text(
    st.characters(codec="utf-8", exclude_categories=("Cs", "Cc")), min_size=1, max_size=20
)


@given(names, names, st.integers(1, 65535))
def test_probe_answers_parse_to_address_name_and_model(name: str, model: str, port: int) -> None:
    from urllib.parse import quote

    scopes = [
        f"onvif://www.onvif.org/name/{quote(name)}",
        f"onvif://www.onvif.org/hardware/{quote(model)}",
        "onvif://www.onvif.org/type/video_encoder",
        "onvif://www.onvif.org/name/",  # empty: ignored
    ]
    cam = found([f"http://10.0.0.9:{port}/onvif/device_service"], scopes)
    assert (cam.address, cam.name, cam.model) == (f"10.0.0.9:{port}", name, model)
    assert scope_values(scopes, "type") == ["video_encoder"]
    assert found(["not a url"], []).address == ""
