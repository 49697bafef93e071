"""Property tests: RTU/TCP reply parsing, profile parsing, poll combining, the bus agenda,
the circuit breaker and the simulated gate's motion."""

from __future__ import annotations

import itertools
import struct
import tomllib
from collections import deque

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from drivers.modbus import profile as profiles
from drivers.modbus.breaker import Breaker
from drivers.modbus.frames import (
    FrameError,
    Request,
    decode_values,
    parse_rtu_reply,
    parse_tcp_reply,
    rtu_frame,
    tcp_frame,
)
from drivers.modbus.scheduler import Agenda, Command, Poll
from drivers.modbus.timing import LineTiming
from drivers.sim.gate import GateModel
from edgectl.confload import ConfigError

units = st.integers(1, 247)
registers = st.lists(st.integers(0, 0xFFFF), min_size=1, max_size=125)


def read_reply_pdu(values: list[int]) -> bytes:
    return bytes([3, 2 * len(values)]) + b"".join(struct.pack(">H", v) for v in values)


@given(units, registers)
def test_good_rtu_reply_round_trips(unit: int, values: list[int]) -> None:
    frame = rtu_frame(unit, read_reply_pdu(values))
    request = Request(unit, 3, 0, len(values))
    pdu = parse_rtu_reply(frame, unit, 3)
    assert pdu is not None
    assert decode_values(pdu, request) == values
    for cut in range(len(frame)):
        assert parse_rtu_reply(frame[:cut], unit, 3) is None  # a prefix is never a reply


@given(units, registers, st.data())
def test_any_corrupted_byte_is_never_taken_for_a_reply(
    unit: int, values: list[int], data: st.DataObject
) -> None:
    frame = bytearray(rtu_frame(unit, read_reply_pdu(values)))
    i = data.draw(st.integers(0, len(frame) - 1))
    frame[i] ^= data.draw(st.integers(1, 255))
    try:
        assert parse_rtu_reply(bytes(frame), unit, 3) is None  # e.g. a longer byte count
    except FrameError:
        pass


@given(st.binary(max_size=300), units, st.sampled_from([1, 3, 4, 5, 6]))
def test_arbitrary_bytes_parse_or_raise_frame_error(buf: bytes, unit: int, fc: int) -> None:
    try:
        parse_rtu_reply(buf, unit, fc)
    except FrameError:
        pass


@given(st.binary(max_size=300), st.integers(0, 0xFFFF), units)
def test_arbitrary_tcp_bytes_parse_or_raise_frame_error(buf: bytes, tid: int, unit: int) -> None:
    try:
        parse_tcp_reply(buf, tid, unit, 3)
    except FrameError:
        pass


@given(st.integers(0, 0xFFFF), units, registers)
def test_good_tcp_reply_round_trips(tid: int, unit: int, values: list[int]) -> None:
    frame = tcp_frame(tid, unit, read_reply_pdu(values))
    pdu = parse_tcp_reply(frame, tid, unit, 3)
    assert pdu is not None and decode_values(pdu, Request(unit, 3, 0, len(values))) == values


@given(st.lists(st.integers(0, 2000), min_size=1, max_size=60), st.integers(0, 16))
def test_read_ranges_cover_every_address_once_within_limits(addrs: list[int], gap: int) -> None:
    ranges = profiles.read_ranges(tuple(addrs), gap)
    covered = [a for start, count in ranges for a in range(start, start + count)]
    assert len(covered) == len(set(covered))
    assert set(addrs) <= set(covered)
    assert all(1 <= count <= profiles.MAX_READ for _, count in ranges)
    assert ranges == sorted(ranges)
    for (s1, c1), (s2, _) in itertools.pairwise(ranges):
        assert s2 - (s1 + c1) > gap or s2 + 1 - s1 > profiles.MAX_READ  # merged when worth it


CAME = tomllib.loads((profiles.PROFILE_DIR / "came_zlb30.toml").read_text())
toml_values = st.one_of(
    st.integers(-5, 70000),
    st.text(max_size=8),
    st.booleans(),
    st.floats(allow_nan=False),
    st.lists(st.integers(-2, 200), max_size=5),
    st.dictionaries(st.text(max_size=4), st.integers(0, 40), max_size=3),
)


@given(st.data())
def test_mangled_profiles_load_or_fail_naming_the_key(data: st.DataObject) -> None:
    doc = {k: dict(v) if isinstance(v, dict) else v for k, v in CAME.items()}
    section = data.draw(st.sampled_from(sorted(doc)))
    if isinstance(doc[section], dict) and doc[section]:
        key = data.draw(st.sampled_from(sorted(doc[section])))
        doc[section][key] = data.draw(toml_values)
    else:
        doc[section] = data.draw(toml_values)
    try:
        prof = profiles.build(profiles.Profile, doc, profiles.PROFILE_DIR / "x.toml")
    except ConfigError as exc:
        assert exc.key
        return
    assert prof.state_of(prof.state_value("open")) in profiles.STATES


def test_shipped_profiles_load() -> None:
    came = profiles.load("came_zlb30")
    assert came.state_of(16) == "open" and came.state_of(33) == "closing"
    assert came.commands.open.coil == 1 and came.registers.state == 100
    assert profiles.read_ranges(came.poll_addresses) == [(100, 8)]
    with pytest.raises(ConfigError, match="no gate profile 'nope'"):
        profiles.load("nope")


ops = st.lists(
    st.one_of(
        st.tuples(st.just("command"), st.integers(1, 4)),
        st.tuples(st.just("tick"), st.floats(0.0, 2.0)),
        st.tuples(st.just("next"), st.just(0)),
        st.tuples(st.just("fail"), st.integers(1, 4)),
    ),
    max_size=80,
)


@settings(max_examples=300)
@given(ops, st.lists(st.floats(0.0, 3.0), min_size=1, max_size=4))
def test_agenda_sends_commands_first_in_order_and_polls_only_when_due(
    steps: list[tuple[str, float]], intervals: list[float]
) -> None:
    agenda = Agenda()
    for unit, interval in enumerate(intervals, start=1):
        agenda.polls.append(Poll(f"g{unit}", Request(unit, 3, 0, 8), interval))
    now, seq, sent = 0.0, 0, deque[int]()
    for op, arg in steps:
        if op == "command":
            seq += 1
            agenda.commands.append(Command(str(seq), Request(int(arg), 5, 1, 1)))
            sent.append(seq)
        elif op == "tick":
            now += arg
        elif op == "fail":
            agenda.breaker(int(arg)).failure(now, 0.05)
        else:
            pending = bool(agenda.commands)
            job = agenda.next(now)
            if pending:
                assert isinstance(job, Command), "a poll went ahead of a queued command"
                assert int(job.key) == sent.popleft(), "commands out of order"
            elif isinstance(job, Poll):
                assert job.due <= now and agenda.breaker(job.request.unit).allows(now)
                job.reschedule(now)
            else:
                assert job > now
                assert all(
                    max(p.due, agenda.breaker(p.request.unit).open_until) >= job
                    for p in agenda.polls
                )


@given(st.lists(st.floats(0.001, 0.5), min_size=1, max_size=200), st.integers(1, 5))
def test_dead_unit_uses_at_most_its_share_of_bus_time(costs: list[float], after: int) -> None:
    breaker = Breaker(offline_after=after)
    now = spent = 0.0
    for cost in costs:
        assert breaker.allows(now)
        now += cost
        spent += cost
        breaker.failure(now, cost)
        now = breaker.open_until  # the next attempt as early as the breaker allows
    assert spent / now <= breaker.max_share + 1e-9
    assert breaker.online is (False if len(costs) >= after else None)
    assert breaker.success() is True and breaker.allows(now)


@given(
    st.lists(
        st.tuples(st.sampled_from(["open", "close", "stop", "partial"]), st.floats(0, 10)),
        max_size=12,
    ),
    st.floats(0.1, 20),
)
def test_simulated_boom_stays_in_range_and_settles(
    cmds: list[tuple[str, float]], travel: float
) -> None:
    base = profiles.load("came_zlb30")
    prof = profiles.Profile(
        **{
            **{f: getattr(base, f) for f in base.__dataclass_fields__},
            "timing": profiles.Timing(travel_s=travel),
        }
    )
    gate = GateModel(prof)
    now = 0.0
    for name, dt in cmds:
        now += dt
        gate.command(name, now)
        assert 0 <= gate.position(now) <= 100
    end = now + travel + 1
    state = gate.settle(end)
    assert state in {"open", "closed", "partly_open", "stopped"}
    assert gate.registers(end)[prof.registers.state] == prof.state_value(state)


@given(st.sampled_from([1200, 2400, 4800, 9600, 19200, 38400, 57600, 115200]), st.integers(4, 256))
def test_timing_derives_from_baud_and_length(baud: int, length: int) -> None:
    t = LineTiming(baud)
    assert t.gap_s == (0.00175 if baud > 19200 else 3.5 * 10 / baud)
    assert t.timeout_s(8, length + 1) > t.timeout_s(8, length) > t.frame_s(8 + length)
    assert t.transaction_s(8, length) >= t.frame_s(8 + length) + t.turnaround_s


def test_config_names_an_unknown_gate_profile() -> None:
    from edgectl.config import ConfigError as SiteConfigError
    from edgectl.config import parse

    text = '[site]\nid = "a"\n[[buses]]\nid = "b"\nport = "/dev/x"\n'
    with pytest.raises(SiteConfigError, match=r"gates\[0\]\.profile: .*no gate profile 'nope'"):
        parse(text + '[[gates]]\nid = "g"\nbus = "b"\nprofile = "nope"\n')


@given(
    st.lists(
        st.tuples(
            st.sampled_from([16, 17, 18, 19, 32, 33, 99]), st.integers(0, 0xFFFF), st.integers(0, 9)
        ),
        min_size=1,
        max_size=30,
    )
)
def test_tracker_emits_exactly_the_changes(reads: list[tuple[int, int, int]]) -> None:
    from datetime import UTC, datetime

    from drivers.modbus.tracker import GateTracker
    from edgectl.config import Gate
    from edgectl.domain import GateState, VehicleDetected

    prof = profiles.load("came_zlb30")
    tracker = GateTracker(Gate(id="g", bus="b", profile="came_zlb30"), prof)
    last_state, last_code, last_vehicle = "unknown", None, False
    for i, (state, flags, code) in enumerate(reads):
        values = {100: state, 101: 50, 102: flags, 103: code, 104: 0, 105: 0, 106: 0, 107: 0}
        events = tracker.update(values, datetime.now(UTC), float(i))
        faulted = bool(flags >> prof.bits.fault & 1)  # type: ignore[operator]
        now_state = "fault" if faulted else prof.state_of(state)
        now_code = code if faulted else None
        states = [e for e in events if isinstance(e, GateState)]
        assert len(states) == ((now_state, now_code) != (last_state, last_code))
        for e in states:
            assert (e.state, e.fault_code) == (now_state, now_code)
            assert e.fault_text == (prof.fault_text(code) if faulted and code else None)
        vehicle = bool(flags & 1)
        loop = [e for e in events if isinstance(e, VehicleDetected)]
        assert [e.present for e in loop] == ([vehicle] if vehicle != last_vehicle else [])
        last_state, last_code, last_vehicle = now_state, now_code, vehicle
