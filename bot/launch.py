"""
The ``smtpbot`` entry point: ``smtpbot check HOST:PORT`` goes the quick path
(``bot.probe.quick``: no asyncio, aiosmtplib or click) when it applies; everything else
goes to the click CLI (``bot.cli``).
"""

from __future__ import annotations

import os
import sys


def main() -> None:
    """
    Run ``smtpbot``.
    """
    if len(sys.argv) > 1 and sys.argv[1] == "check":
        from bot.probe.quick import quick_check

        code = quick_check(sys.argv[2:], env=os.environ, out=sys.stdout, err=sys.stderr)
        if code is not None:
            sys.exit(code)
    from bot.cli import main as cli

    cli()
