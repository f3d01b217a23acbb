"""From settings specs to HTML form fields and back (form data -> the service's change set).

Form field names are the settings keys (the public contract). Each key gets a widget:
``select`` for choices, ``checkbox`` for booleans, ``password`` for secrets (empty = unchanged),
``countries``/``pops``/``mailbox``/``target`` for the richer pickers, ``text`` otherwise.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from starlette.datastructures import FormData

from dialgate.domain import settings as s


def widget(spec: s.SettingSpec) -> str:
    """The widget comes from the key's value kind; only secrets override it (never shown)."""
    return "password" if spec.secret else spec.kind.widget


def inputmode(key: str) -> str | None:
    return s.spec_for(key).kind.inputmode


@dataclass(frozen=True, slots=True)
class Field:
    """One form field as the template renders it."""

    spec: s.SettingSpec
    widget: str
    value: Any  # str for text-like widgets, bool for checkboxes, list[str] for multi-pickers
    error: str | None = None
    inherited: str | None = None  # sub accounts: the main account's value, in words
    label: str = ""  # a page's own label for the key (sub accounts); else the spec's
    help: str = ""

    @property
    def key(self) -> str:
        return self.spec.key

    @property
    def title(self) -> str:
        return self.label or self.spec.label

    @property
    def help_text(self) -> str:
        return self.help or self.spec.help


def tab_specs(tab: s.Tab) -> list[s.SettingSpec]:
    """The keys of one tab; the portal password has its own page (it needs the current one)."""
    return [spec for spec in s.SPECS if spec.tab == tab and spec.key != "portal_password"]


def form_value(spec: s.SettingSpec, value: Any) -> Any:
    """A stored value as its widget shows it."""
    kind = widget(spec)
    if kind == "password":
        return ""
    if kind == "checkbox":
        return bool(value)
    if kind in ("countries", "pops", "codecs"):
        return list(value or ())
    return s.display(spec.key, value)


def submitted_value(spec: s.SettingSpec, form: FormData) -> Any:
    """What the user typed, in the widget's shape (to show it again after an error)."""
    kind = widget(spec)
    if kind == "checkbox":
        values = form.getlist(spec.key)
        return bool(values) and str(values[-1]) == "true"
    if kind in ("countries", "pops", "codecs"):
        return [str(v) for v in form.getlist(spec.key)]
    if kind == "target":
        return target_from_form(form, spec.key) or ""
    raw = form.get(spec.key)
    return "" if raw is None or not isinstance(raw, str) else raw


def changes_from_form(specs: Iterable[s.SettingSpec], form: FormData) -> dict[str, str]:
    """The change set a tab's form submits. Absent fields are not changed."""
    changes: dict[str, str] = {}
    for spec in specs:
        kind = widget(spec)
        if kind == "checkbox":
            # The hidden "false" comes first, the ticked box's "true" last. A forged value goes
            # to the rules as is (and is refused there), never silently read as false.
            values = form.getlist(spec.key)
            if values:
                changes[spec.key] = str(values[-1])
        elif kind == "countries":
            if "allowed_countries_present" not in form:
                continue
            codes = submitted_value(spec, form)
            if "ALL" in codes:
                changes[spec.key] = "ALL"
            else:
                # Nothing ticked is a choice the rule refuses, not "reset to ALL".
                changes[spec.key] = ",".join(codes) if codes else ","
        elif kind == "pops":
            if "pop_restriction_present" in form:
                changes[spec.key] = ",".join(submitted_value(spec, form))
        elif kind == "codecs":
            codecs = codecs_from_form(form, spec.key)
            if codecs is not None:
                changes[spec.key] = codecs
        elif kind == "target":
            target = target_from_form(form, spec.key)
            if target is not None:
                changes[spec.key] = target
        elif kind == "password":
            raw = form.get(spec.key)
            if isinstance(raw, str) and raw != "":
                changes[spec.key] = raw
        elif spec.key in form:
            changes[spec.key] = str(submitted_value(spec, form))
    return changes


def target_from_form(form: FormData, name: str) -> str | None:
    """A routing target from its picker: ``<name>_type`` says the kind (``account``, ``vm``,
    ``sys``, ...) and ``<name>_<kind>`` which one; the result is the stored ``kind:ref``.
    A form that posts ``<name>`` itself (scripts, older pages) is read as is."""
    kind = form.get(f"{name}_type")
    if isinstance(kind, str):
        if kind == "none":
            return "none:"
        ref = form.get(f"{name}_{kind}")
        return f"{kind}:{ref if isinstance(ref, str) else ''}"
    raw = form.get(name)
    return raw if isinstance(raw, str) else None


def codecs_from_form(form: FormData, name: str) -> str | None:
    """The codec checkboxes as the setting's value: "" to inherit (sub accounts), ``all``, or the
    ticked codecs; nothing ticked is sent as "," for the rules to refuse."""
    if f"{name}_present" not in form:
        return None
    if form.get(f"{name}_inherit") == "1":
        return ""
    ticked = [str(v) for v in form.getlist(name)]
    if "all" in ticked:
        return "all"
    return ",".join(ticked) if ticked else ","


def fields(
    specs: Iterable[s.SettingSpec],
    values: Mapping[str, Any],
    *,
    form: FormData | None = None,
    errors: Mapping[str, str] | None = None,
) -> list[Field]:
    errors = errors or {}
    out = []
    for spec in specs:
        value = (
            submitted_value(spec, form)
            if form is not None and not spec.secret
            else form_value(spec, values.get(spec.key))
        )
        out.append(Field(spec, widget(spec), value, errors.get(spec.key)))
    return out
