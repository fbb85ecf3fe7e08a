"""
The Slack side: the Bolt app, its Block Kit, and the HTTP and Socket Mode transports.
"""
