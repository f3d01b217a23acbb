"""A small stdlib SIP user agent for end-to-end tests (UDP, TCP, TLS)."""
