"""Free TCP ports on 127.0.0.1 for the process groups and launchers that tests start."""
import socket
from typing import List


def free_ports(count: int) -> List[int]:
    """``count`` distinct free ports (their sockets are held open together while choosing)."""
    socks = [socket.socket() for _ in range(count)]
    try:
        for sock in socks:
            sock.bind(('127.0.0.1', 0))
        return [sock.getsockname()[1] for sock in socks]
    finally:
        for sock in socks:
            sock.close()


def free_port() -> int:
    """One free port."""
    return free_ports(1)[0]
