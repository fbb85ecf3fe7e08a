"""
Escalation: hand threads to people with their context, never lose or double a hand-off,
remind until someone claims it, and learn which answers fail.

The records (``model``), their storage (``store``), the learning loop (``learning``)
and the overview (``overview``) know nothing of Slack; ``bot.slack.escalation``
delivers cards and handles their buttons.
"""
