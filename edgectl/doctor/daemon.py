"""Is a daemon running for this config? Its control socket says, and names its pid."""

from __future__ import annotations

import socket
import struct


def daemon_pid(control_socket: str) -> int | None:
    """The pid of the daemon listening on ``control_socket`` (SO_PEERCRED), or None."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.settimeout(1)
        try:
            sock.connect(control_socket)
        except OSError:
            return None
        creds = sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i"))
    pid, _, _ = struct.unpack("3i", creds)
    return pid or None
