"""
A TCP socket that remembers the first bytes the server sent, so the probe can name what
answered ("HTTP/1.1 400 ...") after a TLS library has consumed them.
"""

from __future__ import annotations

import socket
from typing import Any

# How many of the first bytes a server sends are kept, to name what answered
# ("HTTP/1.1 400 ..." in answer to a ClientHello).
FIRST_BYTES = 16


class RecordingSocket(socket.socket):
    """
    A TCP socket that keeps the first bytes the server sent, whoever reads them.

    asyncio's transports read with ``recv_into``/``recv``; the bytes still go to them
    untouched.
    """

    first: bytes = b""

    def recv_into(self, buffer: Any, nbytes: int = 0, flags: int = 0) -> int:
        """
        Read as usual, keeping the start of the stream.
        """
        count = super().recv_into(buffer, nbytes, flags)
        if len(self.first) < FIRST_BYTES and count:
            self.first += bytes(memoryview(buffer)[: min(count, FIRST_BYTES)])
        return count

    def recv(self, bufsize: int, flags: int = 0) -> bytes:
        """
        Read as usual, keeping the start of the stream.
        """
        data = super().recv(bufsize, flags)
        if len(self.first) < FIRST_BYTES and not flags & socket.MSG_PEEK:
            self.first += data[:FIRST_BYTES]
        return data
