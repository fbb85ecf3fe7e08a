"""
Escalation: hand threads to people with their context, never lose or double a hand-off,
remind until someone claims it, and learn which answers fail.
"""
