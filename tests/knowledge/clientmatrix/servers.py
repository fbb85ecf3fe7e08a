"""
Faulty SMTP endpoints on loopback: one server per fault, each breaking one way (a
reply at one step of the session, a certificate, an old protocol, no STARTTLS, a full
accept queue), on blocking sockets so OpenSSL's alerts reach the clients as real MTAs
send them.
"""

from __future__ import annotations

import contextlib
import socket
import threading
from dataclasses import dataclass, field
from typing import Any

from tests.probe.lab import BlockingSmtp, _bind_somewhere

# RFC 4954 §4: the server's prompts for AUTH LOGIN ("Username:", "Password:").
LOGIN_PROMPTS = (b"334 VXNlcm5hbWU6\r\n", b"334 UGFzc3dvcmQ6\r\n")


@dataclass
class FaultySmtp(BlockingSmtp):
    """
    A threaded SMTP server that accepts everything but the steps given in ``replies``
    ("AUTH", "MAIL", "RCPT", "DATA": the reply to the end of the message), and offers
    STARTTLS only when it has ``tls`` and ``offer_starttls``. A greeting that is no 220
    ends the session, as an MTA refusing a connection does.
    """

    offer_starttls: bool = True
    offer_auth: bool = True
    replies: dict[str, bytes] = field(default_factory=dict)

    def _ehlo(self, in_tls: bool) -> bytes:
        lines = [b"mail.test", b"PIPELINING", b"SIZE 10240000"]
        if self.tls is not None and self.offer_starttls and not in_tls:
            lines.append(b"STARTTLS")
        if self.offer_auth:
            lines.append(b"AUTH PLAIN LOGIN")
        lines.append(b"8BITMIME")
        return b"".join(
            b"250" + (b" " if i == len(lines) - 1 else b"-") + line + b"\r\n"
            for i, line in enumerate(lines)
        )

    def _session(self, conn: socket.socket, opened: list[Any]) -> None:
        if not self.banner.startswith(b"220"):
            return
        in_tls = self.implicit
        reader = conn.makefile("rb")
        opened.append(reader)
        while line := reader.readline(4096):
            words = line.strip().split(b" ")
            verb = words[0].upper()
            if verb in (b"EHLO", b"HELO"):
                conn.sendall(
                    self._ehlo(in_tls) if verb == b"EHLO" else b"250 mail.test\r\n"
                )
            elif verb == b"STARTTLS" and self.tls is not None and not in_tls:
                conn.sendall(b"220 2.0.0 Ready to start TLS\r\n")
                conn = self.tls.wrap_socket(conn, server_side=True)
                opened.append(conn)
                reader = conn.makefile("rb")
                opened.append(reader)
                in_tls = True
            elif verb == b"AUTH":
                if not self._auth(conn, reader, words):
                    return
            elif verb in (b"MAIL", b"RCPT"):
                conn.sendall(self.replies.get(verb.decode(), b"250 2.1.0 Ok\r\n"))
            elif verb == b"DATA":
                conn.sendall(b"354 End data with <CR><LF>.<CR><LF>\r\n")
                while reader.readline(65536) not in (b".\r\n", b".\n", b""):
                    pass
                conn.sendall(self.replies.get("DATA", b"250 2.0.0 Ok: queued\r\n"))
            elif verb in (b"RSET", b"NOOP"):
                conn.sendall(b"250 2.0.0 Ok\r\n")
            elif verb == b"QUIT":
                conn.sendall(b"221 2.0.0 Bye\r\n")
                return
            else:
                conn.sendall(b"502 5.5.2 Error: command not recognized\r\n")

    def _auth(self, conn: socket.socket, reader: Any, words: list[bytes]) -> bool:
        """
        Run the AUTH PLAIN or LOGIN exchange, then answer as scripted; False when the
        client hung up.
        """
        mechanism = words[1].upper() if len(words) > 1 else b""
        prompts = list(LOGIN_PROMPTS) if mechanism == b"LOGIN" else [b"334 \r\n"]
        given = len(words) > 2
        if given:
            prompts = prompts[1:]
        for prompt in prompts:
            conn.sendall(prompt)
            if not reader.readline(4096):
                return False
        conn.sendall(
            self.replies.get("AUTH", b"235 2.7.0 Authentication successful\r\n")
        )
        return True


@dataclass
class FullBacklog:
    """
    A listening socket whose accept queue is full and never drained: the kernel drops
    new SYNs, so a client's connect times out as it does behind a dropping firewall.
    """

    network: str
    port: int
    host: str = ""
    _sockets: list[socket.socket] = field(default_factory=list)

    def start(self) -> None:
        """
        Listen at an address of ``network`` with the smallest backlog, and fill it.
        """
        self.host, listener = _bind_somewhere(self.network, self.port)
        listener.listen(0)
        self._sockets.append(listener)
        for _ in range(3):
            filler = socket.socket()
            filler.setblocking(False)
            with contextlib.suppress(BlockingIOError):
                filler.connect((self.host, self.port))
            self._sockets.append(filler)
        threading.Event().wait(0.2)

    def stop(self) -> None:
        """
        Close the listener and the connections that fill its queue.
        """
        for sock in self._sockets:
            sock.close()
