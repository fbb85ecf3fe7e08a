"""Send one message with aiosmtplib, as an asyncio application does."""

import asyncio
import json
import sys
from email.message import EmailMessage

import aiosmtplib

run = json.loads(sys.argv[1])
message = EmailMessage()
message["From"], message["To"], message["Subject"] = run["from"], run["to"], "report"
message.set_content("Nightly report attached.")
asyncio.run(
    aiosmtplib.send(
        message,
        hostname=run["host"],
        port=run["port"],
        use_tls=run["mode"] == "tls",
        start_tls=run["mode"] == "starttls",
        username=run.get("user"),
        password=run.get("password"),
        cert_bundle=run["cafile"],
        timeout=run["timeout"],
    )
)
