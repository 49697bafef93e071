"""Modbus application data units: RTU (unit + PDU + CRC) and TCP (MBAP header + PDU).

PDUs are built and decoded by pymodbus's PDU layer; this module owns the framing around
them and the classification of what can go wrong on a wire, so each fault is counted
under its own name.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

from pymodbus.framer import FramerRTU
from pymodbus.pdu import ModbusPDU
from pymodbus.pdu.bit_message import (
    ReadCoilsRequest,
    ReadDiscreteInputsRequest,
    WriteSingleCoilRequest,
)
from pymodbus.pdu.decoders import DecodePDU
from pymodbus.pdu.register_message import (
    ReadHoldingRegistersRequest,
    ReadInputRegistersRequest,
    WriteSingleRegisterRequest,
)

READ_COILS = 1
READ_DISCRETE = 2
READ_HOLDING = 3
READ_INPUT = 4
WRITE_COIL = 5
WRITE_REGISTER = 6
MBAP_LEN = 7

_DECODER = DecodePDU(is_server=False)


class FrameError(Exception):
    """A reply that cannot be used. ``kind`` names the metric it is counted under."""

    kind = "garbage"


class Unexpected(FrameError):
    """Anything the bus owner did not expect while making one transaction (an address the
    frame cannot carry, a bug): that transaction fails, the bus carries on."""

    kind = "error"


class CrcError(FrameError):
    kind = "crc"


class WrongUnit(FrameError):
    kind = "wrong_unit"


class Truncated(FrameError):
    kind = "truncated"


class ReplyTimeout(FrameError):
    kind = "timeout"


class ExceptionReply(FrameError):
    """The device answered with a Modbus exception (e.g. 2 illegal address, 4 device failure)."""

    kind = "exception"

    def __init__(self, code: int) -> None:
        self.code = code
        super().__init__(f"modbus exception {code}")


@dataclass(frozen=True, slots=True)
class Request:
    """One request PDU for one unit, with the length of the normal reply it expects."""

    unit: int
    function: int
    address: int
    value: int  # count for reads, value for writes

    def pdu(self) -> bytes:
        match self.function:
            case 1:
                pdu: ModbusPDU = ReadCoilsRequest(address=self.address, count=self.value)
            case 2:
                pdu = ReadDiscreteInputsRequest(address=self.address, count=self.value)
            case 3:
                pdu = ReadHoldingRegistersRequest(address=self.address, count=self.value)
            case 4:
                pdu = ReadInputRegistersRequest(address=self.address, count=self.value)
            case 5:
                pdu = WriteSingleCoilRequest(address=self.address, bits=[bool(self.value)])
            case 6:
                pdu = WriteSingleRegisterRequest(address=self.address, registers=[self.value])
            case _:
                raise ValueError(f"unsupported function code {self.function}")
        return bytes([self.function]) + pdu.encode()

    @property
    def reply_pdu_len(self) -> int:
        if self.function in (READ_COILS, READ_DISCRETE):
            return 2 + (self.value + 7) // 8
        if self.function in (READ_HOLDING, READ_INPUT):
            return 2 + 2 * self.value
        return 5  # write echoes: function, address, value

    @property
    def rtu_reply_len(self) -> int:
        return 1 + self.reply_pdu_len + 2


def crc16(data: bytes) -> bytes:
    """Modbus CRC-16, low byte first as it goes on the wire."""
    return FramerRTU.compute_CRC(data).to_bytes(2, "big")


def rtu_frame(unit: int, pdu: bytes) -> bytes:
    head = bytes([unit]) + pdu
    return head + crc16(head)


def rtu_reply_length(buf: bytes, function: int) -> int | None:
    """Length of the RTU reply frame starting ``buf``, or None if too few bytes to tell."""
    if len(buf) < 2:
        return None
    if buf[1] == function | 0x80:
        return 5
    if buf[1] != function:
        raise FrameError(f"unexpected function code {buf[1]} (asked {function})")
    if function in (READ_COILS, READ_DISCRETE, READ_HOLDING, READ_INPUT):
        return None if len(buf) < 3 else 5 + buf[2]
    return 8


def parse_rtu_reply(buf: bytes, unit: int, function: int) -> bytes | None:
    """The reply PDU in ``buf``, None while incomplete; raise a FrameError if unusable."""
    length = rtu_reply_length(buf, function)
    if length is None or len(buf) < length:
        return None
    frame = buf[:length]
    if crc16(frame[:-2]) != frame[-2:]:
        raise CrcError(f"CRC mismatch in {frame.hex()}")
    if frame[0] != unit:
        raise WrongUnit(f"reply from unit {frame[0]}, asked unit {unit}")
    return _check_pdu(frame[1:-2], function)


def tcp_frame(tid: int, unit: int, pdu: bytes) -> bytes:
    return struct.pack(">HHHB", tid, 0, len(pdu) + 1, unit) + pdu


def parse_tcp_reply(buf: bytes, tid: int, unit: int, function: int) -> bytes | None:
    """The reply PDU of transaction ``tid`` in ``buf``, None while incomplete."""
    if len(buf) < MBAP_LEN:
        return None
    got_tid, proto, length, got_unit = struct.unpack(">HHHB", buf[:MBAP_LEN])
    if proto != 0 or not 2 <= length <= 254:
        raise FrameError(f"bad MBAP header {buf[:MBAP_LEN].hex()}")
    if len(buf) < 6 + length:
        return None
    if got_tid != tid:
        raise FrameError(f"reply to transaction {got_tid}, expected {tid}")
    if got_unit != unit:
        raise WrongUnit(f"reply from unit {got_unit}, asked unit {unit}")
    return _check_pdu(buf[MBAP_LEN : 6 + length], function)


def _check_pdu(pdu: bytes, function: int) -> bytes:
    if pdu[0] == function | 0x80:
        raise ExceptionReply(pdu[1] if len(pdu) > 1 else 0)
    if pdu[0] != function:
        raise FrameError(f"unexpected function code {pdu[0]} (asked {function})")
    return pdu


def decode_values(pdu: bytes, request: Request) -> list[int]:
    """Register values (or coil bits as 0/1) carried by a good reply PDU."""
    reply = _DECODER.decode(pdu)
    if reply is None:
        raise FrameError(f"undecodable reply PDU {pdu.hex()}")
    if request.function in (READ_COILS, READ_DISCRETE):
        return [int(b) for b in reply.bits[: request.value]]
    if request.function in (READ_HOLDING, READ_INPUT):
        if len(reply.registers) != request.value:
            raise Truncated(f"asked {request.value} registers, got {len(reply.registers)}")
        return list(reply.registers)
    return []
