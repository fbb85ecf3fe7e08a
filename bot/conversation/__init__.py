"""
The conversation layer shared by Slack and the terminal console: what a message gets
given the thread so far (``engine``, ``turns``), probes on a user's behalf
(``checking``, ``checks``) and what the bot says (``replies``).

It knows nothing of Slack or of how escalations are delivered; the edges
(``bot.slack``, ``bot.console``) call it.
"""
