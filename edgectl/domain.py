"""The domain vocabulary: events that flow from devices and rules, commands that flow to devices.

Everything here is a frozen dataclass with no behaviour beyond serialisation, so drivers,
rules, the journal, MQTT and sync all speak the same words. Every event has a stable
``KIND`` (its journal type and its MQTT topic level) and a ``CLASS`` that decides its
durability and retention.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any, ClassVar

SCHEMA_VERSION = 1


class EventClass(StrEnum):
    """Durability and retention class of an event."""

    ACCESS = "access"  # access decisions: synchronous=FULL, never evicted unacknowledged
    ALARM = "alarm"  # alarms: synchronous=FULL, never evicted unacknowledged
    AUDIT = "audit"  # operator commands and their outcomes, config and data changes
    DEVICE = "device"  # device state, online/offline, driver restarts
    TELEMETRY = "telemetry"  # periodic readings; first to go under disk pressure


DURABLE_CLASSES = frozenset({EventClass.ACCESS, EventClass.ALARM})


def _jsonable(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, StrEnum):
        return str(value)
    if isinstance(value, tuple | list | frozenset | set):
        return [_jsonable(v) for v in value]
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    return value


@dataclass(frozen=True, slots=True, kw_only=True)
class Event:
    """Base of every event: where it came from and when (timezone-aware UTC)."""

    KIND: ClassVar[str] = "event"
    CLASS: ClassVar[EventClass] = EventClass.DEVICE

    source: str
    at: datetime

    def body(self) -> dict[str, Any]:
        """The event's own fields as JSON-ready values (without source and at)."""
        return {
            f.name: _jsonable(getattr(self, f.name))
            for f in dataclasses.fields(self)
            if f.name not in ("source", "at")
        }


@dataclass(frozen=True, slots=True, kw_only=True)
class Command:
    """Base of every command: the id of the device that must carry it out."""

    KIND: ClassVar[str] = "command"

    target: str

    def body(self) -> dict[str, Any]:
        return {f.name: _jsonable(getattr(self, f.name)) for f in dataclasses.fields(self)}


# --- events from readers --------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class CredentialPresented(Event):
    """A reader decoded a credential. ``source`` is the reader id."""

    KIND: ClassVar[str] = "credential_presented"
    CLASS: ClassVar[EventClass] = EventClass.ACCESS

    format: str  # wiegand format name, e.g. "h10301", or "raw"
    facility: int | None
    number: int
    bits: int
    pin: str | None = None
    plate: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class BadRead(Event):
    """A reader received a frame that failed parity, length or framing checks: the reason,
    the line's length and the line as text, where a keypad line shows no key (a damaged
    keypad line holds PIN or visitor-code digits)."""

    KIND: ClassVar[str] = "bad_read"
    CLASS: ClassVar[EventClass] = EventClass.ACCESS

    reason: str
    length: int  # bytes in the line as received
    line: str = ""  # the line as text (wiegand line.shown): a keypad line shows no key


# --- decisions ------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class AccessDecided(Event):
    """The outcome of an access decision. ``source`` is the reader id."""

    KIND: ClassVar[str] = "access_decided"
    CLASS: ClassVar[EventClass] = EventClass.ACCESS

    granted: bool
    reason: str
    credential: str  # display form, e.g. "h10301:12:34567"
    person_id: str | None = None
    target: str | None = None  # door or gate id
    direction: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class AccessAlarm(Event):
    """An access alarm: forced or held-open door, duress, soft anti-passback.

    ``silent`` alarms (duress) go to operators only, never to the reader or the door.
    """

    KIND: ClassVar[str] = "access_alarm"
    CLASS: ClassVar[EventClass] = EventClass.ALARM

    alarm: str  # forced_open, held_open_prealarm, held_open, door_secured, duress, antipassback
    target: str  # door or gate id
    person_id: str | None = None
    silent: bool = False


@dataclass(frozen=True, slots=True, kw_only=True)
class Arrival(Event):
    """A resident who opted in entered at a gate: tell their butler (``butler_id``)."""

    KIND: ClassVar[str] = "arrival"
    CLASS: ClassVar[EventClass] = EventClass.ACCESS

    butler_id: str
    person_id: str
    person_name: str
    gate: str


@dataclass(frozen=True, slots=True, kw_only=True)
class DoorContact(Event):
    """A door's contact sensor changed. ``source`` is the door id."""

    KIND: ClassVar[str] = "door_contact"
    CLASS: ClassVar[EventClass] = EventClass.DEVICE

    open: bool


# --- device health --------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class DeviceOnline(Event):
    KIND: ClassVar[str] = "device_online"
    CLASS: ClassVar[EventClass] = EventClass.DEVICE


@dataclass(frozen=True, slots=True, kw_only=True)
class DeviceOffline(Event):
    KIND: ClassVar[str] = "device_offline"
    CLASS: ClassVar[EventClass] = EventClass.DEVICE

    error: str
    retry_in_s: float | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class DriverRestarted(Event):
    KIND: ClassVar[str] = "driver_restarted"
    CLASS: ClassVar[EventClass] = EventClass.DEVICE

    error: str
    attempt: int
    backoff_s: float


@dataclass(frozen=True, slots=True, kw_only=True)
class TaskFailed(Event):
    """A supervised long-running task (a driver, sync, retention, MQTT, a door timer)
    crashed; the supervisor restarts it after ``backoff_s``. ``source`` names the task."""

    KIND: ClassVar[str] = "task_failed"
    CLASS: ClassVar[EventClass] = EventClass.DEVICE

    error: str  # "ExceptionType: message"
    where: str  # the innermost frame: "path:line in function"
    attempt: int  # consecutive failures without a stable run
    backoff_s: float
    critical: bool  # staying dead stops the systemd watchdog


# --- gates ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class GateState(Event):
    """A barrier gate changed state. ``source`` is the gate id."""

    KIND: ClassVar[str] = "gate_state"
    CLASS: ClassVar[EventClass] = EventClass.DEVICE

    state: str  # open, closed, opening, closing, partly_open, stopped, fault, unknown
    position: int | None = None
    fault_code: int | None = None
    fault_text: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class GateCommandFailed(Event):
    KIND: ClassVar[str] = "gate_command_failed"
    CLASS: ClassVar[EventClass] = EventClass.ALARM

    command: str
    error: str


@dataclass(frozen=True, slots=True, kw_only=True)
class VehicleDetected(Event):
    KIND: ClassVar[str] = "vehicle_detected"
    CLASS: ClassVar[EventClass] = EventClass.TELEMETRY

    present: bool


# --- commands to devices --------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class OpenGate(Command):
    KIND: ClassVar[str] = "open_gate"


@dataclass(frozen=True, slots=True, kw_only=True)
class CloseGate(Command):
    KIND: ClassVar[str] = "close_gate"


@dataclass(frozen=True, slots=True, kw_only=True)
class StopGate(Command):
    KIND: ClassVar[str] = "stop_gate"


@dataclass(frozen=True, slots=True, kw_only=True)
class PartialOpenGate(Command):
    KIND: ClassVar[str] = "partial_open_gate"


@dataclass(frozen=True, slots=True, kw_only=True)
class PulseRelay(Command):
    """Unlock a door for ``seconds`` (momentary access)."""

    KIND: ClassVar[str] = "pulse_relay"

    seconds: float


@dataclass(frozen=True, slots=True, kw_only=True)
class HoldRelay(Command):
    """Hold a door unlocked (``on``) or lock it again (``off``)."""

    KIND: ClassVar[str] = "hold_relay"

    on: bool


@dataclass(frozen=True, slots=True, kw_only=True)
class ReaderFeedback(Command):
    """Drive a reader's LED and beeper to show the decision."""

    KIND: ClassVar[str] = "reader_feedback"

    granted: bool


# --- audit ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class OperatorCommand(Event):
    """A command from a person (CLI, MQTT operator) and its outcome. ``source`` is who."""

    KIND: ClassVar[str] = "operator_command"
    CLASS: ClassVar[EventClass] = EventClass.AUDIT

    interface: str  # "mqtt", "control" (the local socket), "cli-direct" (no daemon)
    command: str  # "noun/verb" from edgectl/commands/table.py
    target: str | None = None
    params: dict[str, Any] = dataclasses.field(default_factory=dict)  # never a secret field
    outcome: str = "ok"  # "ok" or "error"
    error: str | None = None
    request: str | None = None  # the request's id (MQTT correlation data)
    transaction: str | None = None  # the request's ``transaction`` field, if it had one


# --- storage --------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class StorageFull(Event):
    """Journal commits failed (disk or database full) and were retried until they succeeded."""

    KIND: ClassVar[str] = "storage_full"
    CLASS: ClassVar[EventClass] = EventClass.ALARM

    error: str
    since: datetime
    seconds: float
    pending_events: int


@dataclass(frozen=True, slots=True, kw_only=True)
class StoragePressure(Event):
    """The store crossed 80% of its disk budget (``active``) or fell back below it."""

    KIND: ClassVar[str] = "storage_pressure"
    CLASS: ClassVar[EventClass] = EventClass.ALARM

    active: bool
    used_bytes: int
    budget_bytes: int
    unacked_events: int  # events the hub has not acknowledged (access/alarm ones are kept)


# --- intercoms (issue 15) ------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class IntercomSignal(Event):
    """What an intercom's event stream said about a call. ``source`` is the intercom id.

    A driver observation, not journaled: ``rules.intercom`` turns it into ``IntercomCall``.
    """

    KIND: ClassVar[str] = "intercom_signal"
    CLASS: ClassVar[EventClass] = EventClass.DEVICE

    state: str  # ringing, answered, ended


@dataclass(frozen=True, slots=True, kw_only=True)
class IntercomCall(Event):
    """A call at an intercom, for the operations centre. ``source`` is the intercom id."""

    KIND: ClassVar[str] = "intercom_call"
    CLASS: ClassVar[EventClass] = EventClass.ACCESS

    call_id: str
    state: str  # ringing, answered, ended, missed
    target: str  # the door or gate the intercom guards
    evidence_frame: str | None = None  # a camera frame id, when a camera watches the intercom
    answered_by: str | None = None
    butler_id: str | None = None  # missed: the butler who is told (None: nobody)
    # missed: how butler_id was chosen: configured_on_duty, roster, nobody_on_duty
    butler_choice: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class IntercomAuthFailed(Event):
    """The intercom refused our credentials; retried only after a long backoff."""

    KIND: ClassVar[str] = "intercom_auth_failed"
    CLASS: ClassVar[EventClass] = EventClass.ALARM

    retry_in_s: float


@dataclass(frozen=True, slots=True, kw_only=True)
class IntercomTamper(Event):
    KIND: ClassVar[str] = "intercom_tamper"
    CLASS: ClassVar[EventClass] = EventClass.ALARM


@dataclass(frozen=True, slots=True, kw_only=True)
class IntercomOpenFailed(Event):
    """An open the intercom refused or never confirmed. ``source`` is the intercom id."""

    KIND: ClassVar[str] = "intercom_open_failed"
    CLASS: ClassVar[EventClass] = EventClass.ALARM

    target: str
    code: str  # device_refused, device_timeout, device_error
    error: str


# --- intercom door and inputs (issue 15, remainder) -----------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class IntercomDoor(Event):
    """The door sensor an intercom reports (``source`` the intercom), for operators only:
    never fed to the door state machine (a device's report is not a wired door contact;
    docs/intercoms.md)."""

    KIND: ClassVar[str] = "intercom_door"
    CLASS: ClassVar[EventClass] = EventClass.DEVICE

    target: str  # the door or gate the intercom guards
    state: str  # open, closed


@dataclass(frozen=True, slots=True, kw_only=True)
class IntercomInput(Event):
    """A logic input of an intercom changed (an exit button, a sensor wired to it)."""

    KIND: ClassVar[str] = "intercom_input"
    CLASS: ClassVar[EventClass] = EventClass.DEVICE

    input: str  # input1, input2, ...
    active: bool


# --- site state changes (issue 9: the site service) -----------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class SiteChanged(Event):
    """A change to site state (people, credentials, levels, passes, modes, work orders),
    committed in the same transaction as the change. ``source`` is always ``"site"``.

    ``subject`` names what changed by a label, never a PIN or a visitor code in clear.
    """

    KIND: ClassVar[str] = "site_changed"
    CLASS: ClassVar[EventClass] = EventClass.AUDIT

    actor: str  # who: an operator, a CLI user, "hub", "system"
    interface: str  # cli, control, mqtt, hub, system
    action: str  # e.g. credential_status, person_upsert, cards_import
    subject: str  # e.g. "card 12:345", "person p1", "visitor pass #17"
    details: dict[str, Any] = dataclasses.field(default_factory=dict)


# --- work orders, patrols, facility availability (issue 16) ------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class WorkOrderCreated(Event):
    """A work order was opened on site. ``source`` is who (a person, ``device`` or ``hub``)."""

    KIND: ClassVar[str] = "workorder_created"
    CLASS: ClassVar[EventClass] = EventClass.AUDIT

    order_id: str
    channel: str  # control (the CLI), mqtt, desk, fault, patrol, availability
    origin: str  # the order's source: desk, operator, butler, fault, patrol, availability
    priority: str
    title: str
    target: str | None = None
    assignee: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class WorkOrderChanged(Event):
    """A work order moved in its lifecycle (or was reassigned). ``source`` is who."""

    KIND: ClassVar[str] = "workorder_changed"
    CLASS: ClassVar[EventClass] = EventClass.AUDIT

    order_id: str
    channel: str
    status: str
    previous: str
    assignee: str | None = None
    estimated_fix_at: datetime | None = None
    verdict: str | None = None
    note: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class WorkOrderOverdue(Event):
    """A stage's deadline passed: level 0 goes to the assignee, later levels further up."""

    KIND: ClassVar[str] = "workorder_overdue"
    CLASS: ClassVar[EventClass] = EventClass.ALARM

    order_id: str
    stage: str  # accept, on_site, diagnose, finish, follow_up
    level: int
    to: str  # the staff id told
    role: str  # assignee, supervisor, ...
    deadline: datetime
    priority: str


@dataclass(frozen=True, slots=True, kw_only=True)
class WorkOrderReport(Event):
    """The site's daily work-order figures (local day ``day``)."""

    KIND: ClassVar[str] = "workorder_report"
    CLASS: ClassVar[EventClass] = EventClass.AUDIT

    day: str
    created: int
    by_source: dict[str, int]
    by_priority: dict[str, int]
    compliance: dict[str, float | None]  # stage -> % met of those due that day
    follow_up_rate: float | None  # % of orders done that day that were followed up


@dataclass(frozen=True, slots=True, kw_only=True)
class PatrolTour(Event):
    """A tour started, completed or ended incomplete. ``source`` is the route id."""

    KIND: ClassVar[str] = "patrol_tour"
    CLASS: ClassVar[EventClass] = EventClass.ACCESS

    tour_id: str
    status: str  # started, completed, incomplete
    guard: str
    by: str  # schedule, badge, or the operator who started it
    missed: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class PatrolCheckpoint(Event):
    """A checkpoint's one classification in a tour. ``source`` is the checkpoint id."""

    KIND: ClassVar[str] = "patrol_checkpoint"
    CLASS: ClassVar[EventClass] = EventClass.ACCESS

    tour_id: str
    route: str
    result: str  # on_time, early, late, missed, out_of_order
    guard: str
    badged_at: datetime | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class CheckpointMissed(Event):
    """A checkpoint was not badged in its window: an alarm to operators. ``source``: checkpoint."""

    KIND: ClassVar[str] = "checkpoint_missed"
    CLASS: ClassVar[EventClass] = EventClass.ALARM

    tour_id: str
    route: str
    guard: str


@dataclass(frozen=True, slots=True, kw_only=True)
class GuardOverdue(Event):
    """The lone-worker alarm: a guard on tour silent longer than the route allows.

    ``source`` is the guard.
    """

    KIND: ClassVar[str] = "guard_overdue"
    CLASS: ClassVar[EventClass] = EventClass.ALARM

    tour_id: str
    route: str
    silent_since: datetime


@dataclass(frozen=True, slots=True, kw_only=True)
class FacilityAvailability(Event):
    """A device's share of a local day online and not in fault. ``source`` is the device."""

    KIND: ClassVar[str] = "facility_availability"
    CLASS: ClassVar[EventClass] = EventClass.AUDIT

    day: str
    share: float
    up_s: float
    outages: int
    week_share: float  # rolling, the last 7 days


# --- settings -------------------------------------------------------------------------
# Here rather than in edgectl/confload.py so that rules/settings.py can raise it while
# importing nothing from edgectl but this vocabulary.


class Invalid(ValueError):
    """Raised by a settings section's ``validate()``: ``key`` is relative to that section."""

    def __init__(self, key: str, problem: str) -> None:
        self.key = key
        self.problem = problem
        super().__init__(f"{key}: {problem}")


# --- damaged storage (issue 10) ---------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class StoreFailed(Event):
    """A journal commit failed for a reason other than a full disk or a lock (a damaged or
    read-only store): those events are lost. ``active`` is published the moment it happens
    (not journaled, seq 0, as the journal cannot take it); ``active = false`` is journaled
    when commits work again, with the count of events lost meanwhile."""

    KIND: ClassVar[str] = "store_failed"
    CLASS: ClassVar[EventClass] = EventClass.ALARM

    active: bool
    error: str
    lost_events: int


# --- cameras (ONVIF) ------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class CameraIdentified(Event):
    """A camera connected: what it is, how far its clock is off ours, what it offers."""

    KIND: ClassVar[str] = "camera_identified"
    CLASS: ClassVar[EventClass] = EventClass.DEVICE

    manufacturer: str
    model: str
    firmware: str
    clock_skew_s: float  # camera clock minus ours; requests are signed with the camera's
    snapshot: bool  # has a snapshot URI (else frames come from the stream)
    ptz: bool
    events: str  # "pullpoint" or "polling"


@dataclass(frozen=True, slots=True, kw_only=True)
class CameraAuthFailed(Event):
    """The camera refused our credentials; we wait ``retry_in_s`` so as not to lock it out."""

    KIND: ClassVar[str] = "camera_auth_failed"
    CLASS: ClassVar[EventClass] = EventClass.DEVICE

    error: str
    retry_in_s: float


@dataclass(frozen=True, slots=True, kw_only=True)
class EvidenceCaptured(Event):
    """A frame was stored as evidence (``evidence_id`` in the local evidence store)."""

    KIND: ClassVar[str] = "evidence_captured"
    CLASS: ClassVar[EventClass] = EventClass.ACCESS

    evidence_id: str
    trigger: str  # access, alarm, camera_alarm, operator
    ref: str  # what triggered it: a reader, door, gate or operator id
    bytes: int
    path: str  # "snapshot" or "stream"


@dataclass(frozen=True, slots=True, kw_only=True)
class EvidenceFailed(Event):
    """A frame could not be grabbed or was refused (not a JPEG, too large, timeout)."""

    KIND: ClassVar[str] = "evidence_failed"
    CLASS: ClassVar[EventClass] = EventClass.DEVICE

    trigger: str
    ref: str
    error: str


@dataclass(frozen=True, slots=True, kw_only=True)
class CameraEvent(Event):
    """A camera's own event (PullPoint): motion, tamper, digital input, line crossing."""

    KIND: ClassVar[str] = "camera_event"
    CLASS: ClassVar[EventClass] = EventClass.DEVICE

    kind: str  # motion, tamper, input, line, other
    name: str
    topic: str
    active: bool


@dataclass(frozen=True, slots=True, kw_only=True)
class CameraAlarm(Event):
    """A camera input or motion event in the camera's armed period: for the people on duty."""

    KIND: ClassVar[str] = "camera_alarm"
    CLASS: ClassVar[EventClass] = EventClass.ALARM

    alarm: str  # motion, input, line, tamper
    name: str


@dataclass(frozen=True, slots=True, kw_only=True)
class CameraFault(Event):
    """Camera health: a frozen, black, defocused or moved picture (``active``) or its recovery."""

    KIND: ClassVar[str] = "camera_fault"
    CLASS: ClassVar[EventClass] = EventClass.ALARM

    fault: str  # frozen, black, defocus, moved
    active: bool
    measure: float
    threshold: float


@dataclass(frozen=True, slots=True, kw_only=True)
class CaptureEvidence(Command):
    """Grab a frame from camera ``target`` and store it under ``evidence_id``."""

    KIND: ClassVar[str] = "capture_evidence"

    evidence_id: str
    trigger: str
    ref: str


@dataclass(frozen=True, slots=True, kw_only=True)
class PtzMove(Command):
    """Continuous move at velocities -1..1; stops by itself after ``seconds``."""

    KIND: ClassVar[str] = "ptz_move"

    pan: float
    tilt: float
    zoom: float = 0.0
    seconds: float = 2.0


@dataclass(frozen=True, slots=True, kw_only=True)
class PtzStop(Command):
    KIND: ClassVar[str] = "ptz_stop"


@dataclass(frozen=True, slots=True, kw_only=True)
class PtzGotoPreset(Command):
    KIND: ClassVar[str] = "ptz_goto_preset"

    preset: str  # the preset's token


@dataclass(frozen=True, slots=True, kw_only=True)
class PtzHome(Command):
    KIND: ClassVar[str] = "ptz_home"
