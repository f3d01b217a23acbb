"""Shared by the driver scripts: record what a library call returned or raised."""

import json
import sys


def _message(exc):
    try:
        return str(exc)
    except Exception:  # voipms-python's __str__ fails for codes missing from its own table
        return ""


def attempt(results, name, fn):
    try:
        results[name] = {"ok": fn()}
    except Exception as exc:  # the libraries report API errors as exceptions
        results[name] = {
            "error": type(exc).__name__,
            "message": _message(exc),
            "code": getattr(exc, "err_code", None),
        }
    return results[name]


def finish(results):
    json.dump(results, sys.stdout)
