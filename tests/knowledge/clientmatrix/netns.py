"""
Run one command inside a network and mount namespace of its own whose only DNS server
(127.0.0.1:53, named by a private ``/etc/resolv.conf``) answers every question NXDOMAIN:
a name that does not resolve, without asking any resolver beyond the namespace.

Started as ``unshare -n -m python -m tests.knowledge.clientmatrix.netns CMD...``; exits
with the command's own exit code, its output passed through.
"""

from __future__ import annotations

import socket
import subprocess
import sys
import tempfile
import threading
from pathlib import Path

import dns.flags
import dns.message
import dns.rcode

from tests.mxcheck.lab import bring_up_loopback, mount_resolv_conf


def answer_nxdomain(sock: socket.socket) -> None:
    """Answer each DNS question on ``sock`` with NXDOMAIN (RFC 1035 §4.1.1 RCODE 3)."""
    while True:
        data, peer = sock.recvfrom(4096)
        try:
            query = dns.message.from_wire(data)
        except Exception:  # noqa: BLE001 - a malformed datagram gets no answer
            continue
        reply = dns.message.make_response(query)
        reply.set_rcode(dns.rcode.NXDOMAIN)
        reply.flags |= dns.flags.RA
        sock.sendto(reply.to_wire(), peer)


def main(argv: list[str]) -> int:
    """Set up the namespace, serve NXDOMAIN, run the command."""
    bring_up_loopback()
    workdir = Path(tempfile.mkdtemp(prefix="clientmatrix-ns-"))
    mount_resolv_conf(workdir)
    for family, address in ((socket.AF_INET, "127.0.0.1"), (socket.AF_INET6, "::1")):
        sock = socket.socket(family, socket.SOCK_DGRAM)
        sock.bind((address, 53))
        threading.Thread(target=answer_nxdomain, args=(sock,), daemon=True).start()
    return subprocess.run(argv, check=False).returncode


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
