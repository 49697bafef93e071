"""``edgectl camera ...`` and ``edgectl discover onvif``: for installers, straight to the camera."""

from __future__ import annotations

import asyncio
import json
from dataclasses import asdict
from pathlib import Path

import typer

from drivers.onvif.settings import Camera
from edgectl.cli.common import ConfigOption, console, err_console, load_or_exit

app = typer.Typer(
    help="Talk to an ONVIF camera directly (the daemon need not run).", no_args_is_help=True
)
discover_app = typer.Typer(help="Find devices on the LAN.", no_args_is_help=True)


def _camera(config: Path, camera_id: str) -> Camera:
    cfg = load_or_exit(config)
    cam = cfg.cameras.camera(camera_id)
    if cam is None:
        known = [c.id for c in cfg.cameras.devices]
        err_console.print(f"[bold red]no camera {camera_id!r}[/]; configured: {known}")
        raise typer.Exit(2)
    return cam


def _fail(camera_id: str, exc: Exception) -> typer.Exit:
    from drivers.onvif.session import CameraAuthError

    what = "refused our credentials" if isinstance(exc, CameraAuthError) else "failed"
    err_console.print(f"[bold red]{camera_id} {what}:[/] {exc}", highlight=False, soft_wrap=True)
    return typer.Exit(1)


@app.command()
def status(
    camera_id: str = typer.Argument(..., metavar="ID"),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
    config: Path = ConfigOption,
) -> None:
    """Connect and show what the camera is: model, clock skew, profile, URIs, PTZ, events."""
    from drivers.onvif.session import CameraError, OnvifSession

    cam = _camera(config, camera_id)

    async def main() -> dict[str, object]:
        session = OnvifSession(cam)
        try:
            return asdict(await session.connect())
        finally:
            await session.close()

    try:
        info = asyncio.run(main())
    except CameraError as exc:
        raise _fail(camera_id, exc) from None
    if as_json:
        print(json.dumps({"id": camera_id, "online": True, **info}))
        return
    console.print(f"[bold]{camera_id}[/] online")
    for key, value in info.items():
        console.print(f"  {key:14} {value}", highlight=False)


@app.command()
def snapshot(
    camera_id: str = typer.Argument(..., metavar="ID"),
    output: Path = typer.Option(..., "--output", "-o", help="Write the JPEG here."),
    config: Path = ConfigOption,
) -> None:
    """Grab one frame (snapshot URI, or the stream if the camera has none) into a file."""
    from drivers.onvif.frames import FrameRefused, SnapshotClient, WarmStream
    from drivers.onvif.session import CameraError, OnvifSession

    cam = _camera(config, camera_id)
    max_bytes = int(load_or_exit(config).cameras.max_frame_mb * 1024 * 1024)

    async def main() -> bytes:
        session = OnvifSession(cam)
        try:
            info = await session.connect()
            if info.snapshot_uri and cam.grab != "stream":
                client = SnapshotClient(cam.username, cam.password, max_bytes, cam.timeout_s)
                try:
                    return await client.get(info.snapshot_uri)
                finally:
                    await client.close()
            if not info.stream_uri:
                raise FrameRefused(
                    "unreachable", "the camera has neither a snapshot nor a stream URI"
                )
            stream = WarmStream(info.stream_uri, cam.username, cam.password, cam.timeout_s)
            stream.start()
            try:
                return await stream.jpeg(cam.timeout_s + 5)
            finally:
                await stream.stop()
        finally:
            await session.close()

    try:
        jpeg = asyncio.run(main())
    except (CameraError, FrameRefused, TimeoutError) as exc:
        raise _fail(camera_id, exc) from None
    output.write_bytes(jpeg)
    console.print(f"{output}: {len(jpeg)} bytes from {camera_id}")


@discover_app.command("onvif")
def discover_onvif(
    timeout: float = typer.Option(3.0, "--timeout", "-t", help="Seconds to wait for answers."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Probe the LAN with WS-Discovery and list the ONVIF cameras that answer."""
    from drivers.onvif.discovery import discover

    cams = discover(timeout)
    if as_json:
        print(json.dumps([asdict(c) for c in cams]))
        return
    if not cams:
        console.print("no ONVIF camera answered (multicast blocked, or another subnet?)")
        return
    for cam in cams:
        console.print(f"{cam.address:24} {cam.model or '?':24} {cam.name}", highlight=False)
