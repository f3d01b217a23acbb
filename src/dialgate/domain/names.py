"""The names an account gave its things, as plain values (read by ``services.names``), so that
whatever puts values into words (``presentation.words``: the portal and the emails) needs no
service or database to do it."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class Named:
    ref: str  # what the routing value holds: 100000_office, 1001, 1
    name: str  # the customer's own label; may be empty


@dataclass(frozen=True, slots=True)
class Names:
    account: str
    # Per routing header (account, vm, fwd, ivr, queue, grp, tc): the targets, in a stable order.
    targets: dict[str, tuple[Named, ...]] = field(default_factory=dict)
    api_keys: dict[str, str] = field(default_factory=dict)  # key prefix -> key name

    def name_of(self, header: str, ref: str) -> str:
        for item in self.targets.get(header, ()):
            if item.ref == ref:
                return item.name
        return ""
