"""Runs the pure call state machine (``rules.intercom``) for every intercom: the state,
the answer timers, and the optional evidence hook.

The router feeds it the drivers' ``IntercomSignal``s and operators' answers; the calls it
produces go to the router's sink (journal, then MQTT), and a timer is armed for each
ringing call's ``answer_s``. Time is read once per step, here, and passed into the rules.

Evidence: when a camera watches an intercom (``intercoms[].camera``) and the site has
cameras, the daemon sets ``evidence`` (``CameraSite.capture``); a ringing call asks it for
a frame id. The hook must not block: it reserves an id at once and the camera grabs the
frame in the background into the evidence store.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from datetime import datetime

from drivers.intercom.settings import Intercom
from edgectl.deadlines import Deadlines
from edgectl.domain import Command, Event, IntercomCall
from rules import intercom as machine

Sink = Callable[[tuple[Command | Event, ...]], None]
EvidenceHook = Callable[[str, str, str], str]  # (camera, trigger, intercom) -> frame id


class IntercomManager:
    def __init__(
        self,
        intercoms: tuple[Intercom, ...],
        clock: Callable[[], datetime],
        sink: Sink,
    ) -> None:
        self.clock = clock
        self.sink = sink
        self.evidence: EvidenceHook | None = None
        self.settings = {ic.id: ic for ic in intercoms}
        self.states = {
            ic.id: machine.CallState(ic.id, ic.target, ic.answer_s, ic.butler or None)
            for ic in intercoms
        }
        self.deadlines = Deadlines("intercom", clock, self._tick)  # .on_failure: see Deadlines

    def signal(self, intercom: str, what: str, by: str | None = None) -> IntercomCall | None:
        """A call signal from the device (or ``by`` an operator); returns the call event."""
        state = self.states.get(intercom)
        if state is None:
            return None
        new, effects = machine.signal(state, what, self.clock(), by)
        return self._set(new, effects)

    def phase(self, intercom: str) -> str:
        return self.states[intercom].phase

    def _set(
        self, state: machine.CallState, effects: tuple[IntercomCall, ...]
    ) -> IntercomCall | None:
        self.states[state.intercom] = state
        self.deadlines.arm(state.intercom, machine.deadline(state))
        effects = tuple(self._with_evidence(e) for e in effects)
        if effects:
            self.sink(effects)
        return effects[-1] if effects else None

    def _with_evidence(self, call: IntercomCall) -> IntercomCall:
        camera = self.settings[call.source].camera
        if call.state != machine.RINGING or not camera or self.evidence is None:
            return call
        return dataclasses.replace(
            call, evidence_frame=self.evidence(camera, "intercom_call", call.source)
        )

    def _tick(self, intercom: str) -> None:
        new, effects = machine.tick(self.states[intercom], self.clock())
        self._set(new, effects)

    def stop(self) -> None:
        self.deadlines.stop()
