"""IPC symbols: section A-H, 2-digit class, subclass letter, main group '/' subgroup."""

from __future__ import annotations

import re
from dataclasses import dataclass

from django.utils.translation import gettext_lazy as _

from marketplace.errors import InvalidInput

SYMBOL_RE = re.compile(
    r"^(?P<section>[A-H])(?P<klass>[0-9]{2})(?P<subclass>[A-Z])\s*0*(?P<group>[0-9]{1,4})"
    r"\s*/\s*(?P<subgroup>[0-9]{2,6})$"
)
PREFIX_RE = re.compile(r"^[A-H]([0-9]{2}([A-Z]([0-9]{1,4}(/[0-9]{2,6})?)?)?)?$")


@dataclass(frozen=True)
class IpcSymbol:
    section: str
    klass: str  # "H01"
    subclass: str  # "H01M"
    group: str  # "10"
    subgroup: str  # "052"

    @property
    def canonical(self) -> str:
        """The usual printed form, H01M 10/052."""
        return f"{self.subclass} {self.group}/{self.subgroup}"

    @property
    def prefixes(self) -> list[str]:
        """Every level as a compact prefix, for exact-match array filters."""
        return [
            self.section,
            self.klass,
            self.subclass,
            f"{self.subclass}{self.group}",
            f"{self.subclass}{self.group}/{self.subgroup}",
        ]


def parse_ipc(raw: object, field: str = "main_ipc") -> IpcSymbol:
    """Check and normalise one IPC symbol (H01M 10/052, h01m10/52 → H01M 10/52)."""
    text = raw.strip().upper() if isinstance(raw, str) else ""
    match = SYMBOL_RE.match(text)
    if not match:
        message = _(
            "%(given)s is not an IPC symbol: a section letter A-H, two class digits, a subclass "
            "letter, the main group, '/', and the subgroup, e.g. H01M 10/052."
        )
        raise InvalidInput(
            "invalid_ipc",
            message,
            fields={field: [message]},
            params={"given": str(raw)[:40]},
        )
    section, klass, subclass = match["section"], match["klass"], match["subclass"]
    return IpcSymbol(
        section=section,
        klass=f"{section}{klass}",
        subclass=f"{section}{klass}{subclass}",
        group=str(int(match["group"])),
        subgroup=match["subgroup"],
    )


def normalise_ipc_prefix(raw: str) -> str | None:
    """A filter value at any level (H, H01, H01M, H01M 10, H01M 10/052) as a compact prefix."""
    text = re.sub(r"\s+", "", raw.strip().upper())
    text = re.sub(r"^([A-H][0-9]{2}[A-Z])0*([0-9])", r"\1\2", text)
    return text if PREFIX_RE.match(text) else None
