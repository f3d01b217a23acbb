"""Dialgate: account settings and call policy for VoIP service providers."""

__version__ = "0.1.0"
