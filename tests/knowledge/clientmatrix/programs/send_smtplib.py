"""Send one message with the standard library's smtplib, as an application does."""

import json
import smtplib
import ssl
import sys
from email.message import EmailMessage

run = json.loads(sys.argv[1])
message = EmailMessage()
message["From"], message["To"], message["Subject"] = run["from"], run["to"], "report"
message.set_content("Nightly report attached.")
context = ssl.create_default_context(cafile=run["cafile"])
if run["mode"] == "tls":
    server = smtplib.SMTP_SSL(
        run["host"], run["port"], context=context, timeout=run["timeout"]
    )
else:
    server = smtplib.SMTP(run["host"], run["port"], timeout=run["timeout"])
with server:
    if run["mode"] == "starttls":
        server.starttls(context=context)
    if run.get("user"):
        server.login(run["user"], run["password"])
    server.send_message(message)
