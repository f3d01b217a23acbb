"""The VoIP.ms-compatible API at ``/api/v1/rest.php`` (placeholder until the facade lands)."""

from __future__ import annotations

from fastapi import FastAPI


def mount(app: FastAPI) -> None:
    return None
