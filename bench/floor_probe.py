"""
The Python floor for ``smtpbot check``: the least a standard-library script can do to
check STARTTLS (banner, EHLO, STARTTLS, verified handshake, EHLO, QUIT), for the
benchmark.

Usage: python bench/floor_probe.py HOST PORT CAFILE [SERVERNAME]
"""

import socket
import ssl
import sys
from typing import BinaryIO


def read_reply(stream: BinaryIO) -> int:
    """
    Read one SMTP reply (all continuation lines); return its code.
    """
    while True:
        line = stream.readline(8192)
        if not line:
            raise ConnectionError("connection closed")
        if line[3:4] != b"-":
            return int(line[:3])


def main() -> int:
    """
    Probe once; print the TLS version and cipher; exit 0 on success.
    """
    host, port, cafile = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    name = sys.argv[4] if len(sys.argv) > 4 else host
    context = ssl.create_default_context(cafile=cafile)
    with socket.create_connection((host, port), timeout=10) as raw:
        stream = raw.makefile("rb")
        assert read_reply(stream) == 220
        raw.sendall(b"EHLO [127.0.0.1]\r\n")
        assert read_reply(stream) == 250
        raw.sendall(b"STARTTLS\r\n")
        assert read_reply(stream) == 220
        with context.wrap_socket(raw, server_hostname=name) as tls:
            stream = tls.makefile("rb")
            tls.sendall(b"EHLO [127.0.0.1]\r\n")
            assert read_reply(stream) == 250
            tls.sendall(b"QUIT\r\n")
            read_reply(stream)
            cipher = tls.cipher()
            print(tls.version(), cipher[0] if cipher else None)
    return 0


if __name__ == "__main__":
    sys.exit(main())
