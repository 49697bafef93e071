"""Wire timing for Modbus RTU: character times, the inter-frame gap and response timeouts.

Every figure is derived from the line settings, never a fixed number of seconds, so a
9,600 baud bus waits as long as its frames need and a 115,200 baud bus no longer.
"""

from __future__ import annotations

from dataclasses import dataclass

# Above 19,200 baud the spec fixes the gap instead of scaling it (Modbus over serial line, 2.5.1.1).
FIXED_GAP_S = 1.75e-3


@dataclass(frozen=True, slots=True)
class LineTiming:
    """Timing of one serial line (``baud`` with ``bytesize``/``parity``/``stopbits`` framing)."""

    baud: int
    bytesize: int = 8
    parity: str = "N"
    stopbits: int = 1
    turnaround_s: float = 0.005  # device think time between request end and reply start
    latency_s: float = 0.025  # host, USB adapter and gateway latency allowance

    @property
    def char_s(self) -> float:
        """Seconds one character takes on the wire: start + data + parity + stop bits."""
        bits = 1 + self.bytesize + (self.parity != "N") + self.stopbits
        return bits / self.baud

    @property
    def gap_s(self) -> float:
        """Silent interval that ends a frame: 3.5 characters, or 1.75 ms above 19,200 baud."""
        return FIXED_GAP_S if self.baud > 19200 else 3.5 * self.char_s

    def frame_s(self, length: int) -> float:
        return length * self.char_s

    def timeout_s(self, request_len: int, reply_len: int) -> float:
        """How long after writing a request its whole reply may take to arrive."""
        return self.frame_s(request_len + reply_len) + self.turnaround_s + self.latency_s

    def transaction_s(self, request_len: int, reply_len: int) -> float:
        """Least bus time of one transaction, back to back with the next.

        Request frame, the device's turnaround (never shorter than the gap that ends the
        request), reply frame, and the gap before the next request may start.
        """
        quiet = max(self.turnaround_s, self.gap_s)
        return self.frame_s(request_len + reply_len) + quiet + self.gap_s
