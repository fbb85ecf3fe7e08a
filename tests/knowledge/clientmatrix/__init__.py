"""
Real mail clients against real faults: loopback SMTP endpoints that each break one way,
the client programs of several runtimes run against them, and what each printed.
"""
