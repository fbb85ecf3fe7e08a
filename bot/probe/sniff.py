"""
Is it a web server? One HTTP request on a connection of its own, for a port that stays
silent where an SMTP server would greet.

Only used when a port has not greeted and either ignores a TLS ClientHello or completes
the handshake and then says nothing: the shapes of an HTTP and an HTTPS server. The
request goes on a separate connection, so a merely slow SMTP server's session is never
disturbed.
"""

from __future__ import annotations

import asyncio
import ssl

from bot.probe import net
from bot.probe.recording import RecordingSocket

# The first line of any HTTP/1.x response (RFC 9112 §4).
HTTP_PREFIX = b"HTTP/"
# Names the probe in the web server's log.
_AGENT = "User-Agent: smtpbot-probe"


async def answers_http(
    address: str,
    port: int,
    *,
    timeout: float,
    context: ssl.SSLContext | None = None,
    server_name: str | None = None,
) -> bool:
    """
    Send ``HEAD /`` (inside TLS with ``context``); True when an HTTP response comes
    back within ``timeout`` seconds.
    """
    if timeout <= 0:
        return False
    writer: asyncio.StreamWriter | None = None
    sock: RecordingSocket | None = None
    try:
        async with asyncio.timeout(timeout):
            sock = await net.connect(address, port, timeout=timeout)
            reader, writer = await asyncio.open_connection(
                sock=sock,
                ssl=context,
                server_hostname=(server_name or address) if context else None,
                ssl_handshake_timeout=timeout if context else None,
            )
            host = server_name or address
            request = f"HEAD / HTTP/1.0\r\nHost: {host}\r\n{_AGENT}\r\n\r\n"
            writer.write(request.encode("ascii", "replace"))
            first = await reader.read(len(HTTP_PREFIX))
            return first.startswith(HTTP_PREFIX)
    except (OSError, ssl.SSLError, TimeoutError, EOFError, ValueError):
        return False
    finally:
        if writer is not None:
            writer.transport.abort()
            # Let the aborted transport close its socket.
            await asyncio.sleep(0)
        if sock is not None and sock.fileno() != -1:
            sock.close()
