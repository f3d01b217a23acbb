"""Settings history: who changed what and when (secrets are *** in the audit log itself)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from dialgate.domain import settings as s
from dialgate.entrypoints.portal.routes_settings import words_for
from dialgate.entrypoints.portal.web import PREFIX, Db, Session, render
from dialgate.services import audit

router = APIRouter()


@router.get(PREFIX + "/history")
def history(request: Request, session: Session, db: Db, tab: str = "") -> Response:
    tabs = list(s.TAB_TITLES.items())
    selected = tab if tab in {t.value for t, _ in tabs} else ""
    with db.uow(write=False) as uow:
        entries = audit.settings_history(uow, session.account, tab=selected or None, limit=200)
    template = (
        "history_rows.html" if request.headers.get("hx-request") == "true" else "history.html"
    )
    return render(
        request,
        template,
        language=session.language,
        session=session,
        section="history",
        tabs=tabs,
        selected=selected,
        entries=entries,
        words=words_for(db, session),
    )
