"""The simulated camera's RTSP server: RTP/JPEG framing, the RTSP dialogue, and FFmpeg.

The packetizer and the request reader are property-tested; the server is spoken to by the
tests' own RTSP client (tests/rtp_client.py) and by OpenCV's FFmpeg backend, the client
the driver uses.
"""

from __future__ import annotations

import asyncio
import struct
from collections.abc import AsyncIterator

import cv2
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from drivers.sim.camera import SimCamera
from drivers.sim.rtp_jpeg import NotRfc2435, packetize, split
from drivers.sim.rtsp import interleaved_channel
from drivers.sim.rtsp_wire import BadRequest, Interleaved, Request, RequestReader
from tests.camera_rig import until
from tests.rtp_client import RtspClient, depacketize, rebuild


def jpeg_of(img: np.ndarray, *params: int) -> bytes:
    ok, buf = cv2.imencode(".jpg", img, list(params))
    assert ok
    return bytes(buf.tobytes())


def decoded(jpeg: bytes) -> np.ndarray:
    img = cv2.imdecode(np.frombuffer(jpeg, np.uint8), cv2.IMREAD_COLOR)
    assert img is not None
    return img


# --- RTP/JPEG ------------------------------------------------------------------------


@given(
    width=st.integers(1, 24).map(lambda n: n * 8),
    height=st.integers(1, 24).map(lambda n: n * 8),
    seed=st.integers(0, 2**32 - 1),
    quality=st.integers(1, 100),
    sampling=st.sampled_from(
        [cv2.IMWRITE_JPEG_SAMPLING_FACTOR_420, cv2.IMWRITE_JPEG_SAMPLING_FACTOR_422]
    ),
    mtu=st.integers(200, 1500),
    seq=st.integers(0, 0xFFFF),
    timestamp=st.integers(0, 0xFFFFFFFF),
)
def test_a_frame_survives_packetizing_and_rebuilding_pixel_for_pixel(
    width: int,
    height: int,
    seed: int,
    quality: int,
    sampling: int,
    mtu: int,
    seq: int,
    timestamp: int,
) -> None:
    img = np.random.default_rng(seed).integers(0, 256, (height, width, 3), dtype=np.uint8)
    jpeg = jpeg_of(
        img, cv2.IMWRITE_JPEG_QUALITY, quality, cv2.IMWRITE_JPEG_SAMPLING_FACTOR, sampling
    )
    packets = packetize(jpeg, seq=seq, timestamp=timestamp, ssrc=0x1234, mtu=mtu)
    assert all(len(p) <= mtu for p in packets)
    frame = depacketize(packets)
    assert (frame.width, frame.height, frame.timestamp) == (width, height, timestamp)
    assert frame.type == (1 if sampling == cv2.IMWRITE_JPEG_SAMPLING_FACTOR_420 else 0)
    assert np.array_equal(decoded(rebuild(frame)), decoded(jpeg))


def test_jpegs_rfc_2435_cannot_carry_are_refused_clearly() -> None:
    img = np.zeros((16, 16, 3), np.uint8)
    with pytest.raises(NotRfc2435, match="three-component"):
        split(jpeg_of(img[:, :, 0]))
    with pytest.raises(NotRfc2435, match="not baseline"):
        split(jpeg_of(img, cv2.IMWRITE_JPEG_PROGRESSIVE, 1))
    with pytest.raises(NotRfc2435, match="multiple of 8"):
        split(jpeg_of(np.zeros((12, 20, 3), np.uint8)))
    with pytest.raises(NotRfc2435, match="restart"):
        split(jpeg_of(img, cv2.IMWRITE_JPEG_RST_INTERVAL, 1))


@given(st.binary(max_size=300))
def test_any_bytes_split_or_are_refused_never_crash(data: bytes) -> None:
    try:
        split(b"\xff\xd8" + data)
    except NotRfc2435:
        pass


# --- RTSP framing --------------------------------------------------------------------

METHOD = st.sampled_from(["OPTIONS", "DESCRIBE", "SETUP", "PLAY", "GET_PARAMETER", "TEARDOWN"])
TEXT = st.text(st.characters(min_codepoint=0x21, max_codepoint=0x7E), min_size=1, max_size=30)
HEADER_NAME = st.from_regex(r"[A-Za-z][A-Za-z-]{0,15}", fullmatch=True).filter(
    lambda n: n.lower() not in ("content-length", "cseq")
)
REQUEST = st.builds(
    lambda method, uri, cseq, headers, body: Request(
        method,
        f"rtsp://127.0.0.1/{uri}",
        {"cseq": str(cseq), **headers, **({"content-length": str(len(body))} if body else {})},
        body,
    ),
    METHOD,
    TEXT,
    st.integers(0, 10**6),
    st.dictionaries(HEADER_NAME.map(str.lower), TEXT, max_size=5),
    st.binary(max_size=200),
)
MESSAGES = st.lists(
    st.one_of(REQUEST, st.builds(Interleaved, st.integers(0, 255), st.binary(max_size=300))),
    max_size=8,
)


def wire(message: Request | Interleaved) -> bytes:
    if isinstance(message, Interleaved):
        return b"$" + struct.pack(">BH", message.channel, len(message.data)) + message.data
    lines = [f"{message.method} {message.uri} RTSP/1.0"]
    lines += [f"{k}: {v}" for k, v in message.headers.items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + message.body


@given(MESSAGES, st.lists(st.integers(0, 4000), max_size=10))
def test_requests_and_interleaved_frames_parse_back_however_the_bytes_are_split(
    messages: list[Request | Interleaved], cuts: list[int]
) -> None:
    data = b"".join(wire(m) for m in messages)
    reader, got, start = RequestReader(), [], 0
    for cut in [*sorted(c % (len(data) + 1) for c in cuts), len(data)]:
        got += reader.feed(data[start:cut])
        start = cut
    assert got == messages


@given(st.binary(max_size=600))
def test_garbage_is_a_bad_request_never_a_crash(data: bytes) -> None:
    reader = RequestReader()
    try:
        reader.feed(data)
        reader.feed(b"\r\n\r\n")
    except BadRequest as exc:
        assert exc.status in (400, 505)


def test_oversized_headers_and_bodies_are_refused() -> None:
    with pytest.raises(BadRequest, match="no end of headers"):
        RequestReader().feed(b"OPTIONS * RTSP/1.0\r\nX: " + b"a" * 9000)
    with pytest.raises(BadRequest, match="over 65536"):
        RequestReader().feed(b"OPTIONS * RTSP/1.0\r\nContent-Length: 70000\r\n\r\n")


@given(
    st.integers(0, 254),
    st.permutations(["unicast", "mode=play", "ttl=1"]),
    st.sampled_from(["RTP/AVP/TCP", "rtp/avp/tcp"]),
)
def test_the_interleaved_channel_is_read_from_any_tcp_transport_spec(
    channel: int, extras: list[str], profile: str
) -> None:
    spec = ";".join([profile, *extras[:1], f"interleaved={channel}-{channel + 1}", *extras[1:]])
    assert interleaved_channel(spec) == channel
    assert interleaved_channel(f"RTP/AVP;unicast;client_port=5000-5001,{spec}") == channel
    assert interleaved_channel("RTP/AVP;unicast;client_port=5000-5001") is None
    assert interleaved_channel("RTP/AVP/UDP;multicast") is None


# --- the server, spoken to over the wire ---------------------------------------------


@pytest.fixture
async def sim() -> AsyncIterator[SimCamera]:
    cam = SimCamera()
    await cam.start()
    yield cam
    await cam.stop()


async def test_the_rtsp_dialogue_with_digest_auth_streams_the_cameras_frames(
    sim: SimCamera,
) -> None:
    url = sim.rtsp.url
    client = await RtspClient.connect(sim.rtsp.port, "admin", "secret")
    try:
        options = await client.request("OPTIONS", url)
        assert options.status == 200 and "GET_PARAMETER" in options.headers["public"]
        describe = await client.request("DESCRIBE", url, {"Accept": "application/sdp"})
        assert describe.status == 200
        assert b"m=video 0 RTP/AVP 26" in describe.body
        track = describe.headers["content-base"] + "track1"
        udp = await client.request(
            "SETUP", track, {"Transport": "RTP/AVP;unicast;client_port=5000-5001"}
        )
        assert udp.status == 461
        setup = await client.request(
            "SETUP", track, {"Transport": "RTP/AVP/TCP;unicast;interleaved=0-1"}
        )
        assert setup.status == 200 and "interleaved=0-1" in setup.headers["transport"]
        client.session = setup.headers["session"].split(";")[0]
        play = await client.request("PLAY", url)
        assert play.status == 200 and sim.rtsp.playing == 1
        frame = depacketize(await client.frame())
        assert (frame.width, frame.height) == (640, 360)
        assert decoded(rebuild(frame)).shape == (360, 640, 3)
        sim.frames.mode = "black"
        await client.frame()  # one may have been in flight
        assert decoded(rebuild(depacketize(await client.frame()))).mean() < 10
        assert (await client.request("GET_PARAMETER", url)).status == 200
        assert (await client.request("TEARDOWN", url)).status == 200
        assert sim.rtsp.playing == 0
    finally:
        await client.close()
    assert sim.auth_failures == 0


async def test_a_session_the_client_stops_keeping_alive_is_closed(sim: SimCamera) -> None:
    sim.rtsp.session_timeout_s = 0.5
    url = sim.rtsp.url
    client = await RtspClient.connect(sim.rtsp.port, "admin", "secret")
    try:
        setup = await client.request(
            "SETUP", f"{url}/track1", {"Transport": "RTP/AVP/TCP;unicast;interleaved=0-1"}
        )
        assert setup.headers["session"].endswith(";timeout=1")
        client.session = setup.headers["session"].split(";")[0]
        assert (await client.request("PLAY", url)).status == 200
        with pytest.raises(asyncio.IncompleteReadError):  # frames, then the server hangs up
            async with asyncio.timeout(10):
                while True:
                    await client.frame()
        assert sim.rtsp.playing == 0
    finally:
        await client.close()


async def test_wrong_credentials_and_wrong_sessions_are_refused(sim: SimCamera) -> None:
    url = sim.rtsp.url
    client = await RtspClient.connect(sim.rtsp.port, "admin", "wrong")
    try:
        assert (await client.request("DESCRIBE", url)).status == 401
        assert sim.auth_failures == 1
    finally:
        await client.close()
    client = await RtspClient.connect(sim.rtsp.port, "admin", "secret")
    try:
        client.session = "not-ours"
        assert (await client.request("PLAY", url)).status == 454
        assert (await client.request("DESCRIBE", url + "/elsewhere")).status == 404
        assert (await client.request("RECORD", url)).status == 501
        assert (await client.request("DESCRIBE", "rtsp://[::1/stream")).status == 404
    finally:
        await client.close()
    assert sim.rtsp.playing == 0


async def test_opencvs_ffmpeg_backend_reads_the_stream_with_credentials_from_the_url(
    sim: SimCamera,
) -> None:
    sim.rtsp.session_timeout_s = 2.0  # FFmpeg sends a keep-alive every timeout / 2
    url = sim.rtsp.url.replace("rtsp://", "rtsp://admin:secret@")
    params = [cv2.CAP_PROP_OPEN_TIMEOUT_MSEC, 10_000, cv2.CAP_PROP_READ_TIMEOUT_MSEC, 10_000]
    # OpenCV blocks: off the loop, or the server in this loop could never answer it.
    capture = await asyncio.to_thread(cv2.VideoCapture, url, cv2.CAP_FFMPEG, params)
    try:
        assert capture.isOpened()
        ok, frame = await asyncio.to_thread(capture.read)
        assert ok and frame.shape == (360, 640, 3)
        sim.frames.mode = "black"
        for _ in range(30):  # frames decoded before the change may be queued
            ok, frame = await asyncio.to_thread(capture.read)
            if ok and frame.mean() < 10:
                break
        assert ok and frame.mean() < 10
        async with asyncio.timeout(20):  # past the session timeout, kept alive
            while sim.rtsp.requests.count("GET_PARAMETER") < 2:
                ok, frame = await asyncio.to_thread(capture.read)
                assert ok
    finally:
        await asyncio.to_thread(capture.release)
    assert {"DESCRIBE", "SETUP", "PLAY"} <= set(sim.rtsp.requests)
    # OpenCV asks for TCP interleaved first: no UDP SETUP refused with 461 before it
    assert sim.rtsp.requests.count("SETUP") == 1
    await until(lambda: "TEARDOWN" in sim.rtsp.requests)
    assert sim.auth_failures == 0


async def test_a_garbled_request_gets_400_and_the_server_serves_the_next_client(
    sim: SimCamera,
) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", sim.rtsp.port)
    writer.write(b"\x16\x03\x01 not rtsp at all\r\n\r\n")
    answer = await asyncio.wait_for(reader.read(), 5)  # then the server closes
    writer.close()
    assert answer.startswith(b"RTSP/1.0 400 Bad Request\r\n")
    client = await RtspClient.connect(sim.rtsp.port, "admin", "secret")
    try:
        assert (await client.request("OPTIONS", sim.rtsp.url)).status == 200
    finally:
        await client.close()
