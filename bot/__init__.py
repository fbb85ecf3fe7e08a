"""
Slack support bot for people who cannot send email.
"""

__version__ = "0.1.0"
