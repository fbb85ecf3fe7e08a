"""
Escalation on Slack: delivering hand-off cards, their buttons, SLA reminders and the
App Home tab. The records and their storage live in ``bot.escalation``.
"""
