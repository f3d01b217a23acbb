"""The SIP layer: Kamailio configuration, Asterisk PJSIP export and (``http``) the switch API."""
