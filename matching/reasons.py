"""Match reasons: stored as codes with parameters (engine.reason_codes makes them), rendered
in the reader's language when read. Privacy rules filter by code (BUDGET_CODES), never by
rendered text."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from django.utils import translation
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from marketplace.models import Industry, Region

TEMPLATES: dict[str, Any] = {
    "similar_content": _("similar technical content (%(similarity)s)"),
    # "match reason": the Chinese sentences take the full-width colon (：) after their label.
    "same_ipc": pgettext_lazy("match reason", "same IPC as the need: %(ipc)s"),
    "ipc_industry": _("IPC %(ipc)s ↔ industry %(industry)s %(name)s"),
    "keywords": pgettext_lazy("match reason", "keywords: %(words)s"),
    "same_province": pgettext_lazy("match reason", "same province: %(name)s"),
    "within_budget": _("royalty within budget"),
}

# Reasons derived from the SME's budget: a patentee never sees them.
BUDGET_CODES = frozenset({"within_budget"})


def without_budget(codes: Iterable[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    return [code for code in codes if code.get("code") not in BUDGET_CODES]


class Names:
    """Industry and province names, read once per response."""

    def __init__(self) -> None:
        self.industries = {
            code: (zh, en)
            for code, zh, en in Industry.objects.values_list("code", "name_zh", "name_en")
        }
        self.provinces = dict(
            Region.objects.filter(level="province").values_list("code", "name_zh")
        )


def _ipc(label: str) -> str:
    """A compact IPC level as it is written: G06T7 → G06T 7."""
    return f"{label[:4]} {label[4:]}" if len(label) > 4 else label


def render(codes: Iterable[Mapping[str, Any]], language: str, names: Names) -> list[str]:
    """The reasons as sentences in `language` (an unknown code is left out)."""
    english = language.startswith("en")
    lines: list[str] = []
    with translation.override("en" if english else "zh-hans"):
        for reason in codes:
            code = str(reason.get("code", ""))
            template = TEMPLATES.get(code)
            if template is None:
                continue
            params: dict[str, Any] = {}
            if code == "similar_content":
                params["similarity"] = f"{float(reason['similarity']):.2f}"
            elif code == "same_ipc":
                params["ipc"] = _ipc(str(reason["ipc"]))
            elif code == "ipc_industry":
                zh, en = names.industries.get(str(reason["industry"]), ("", ""))
                params = {
                    "ipc": reason["ipc"],
                    "industry": reason["industry"],
                    "name": (en or zh) if english else zh,
                }
            elif code == "keywords":
                # A Chinese list takes the enumeration comma (、), an English one ", ".
                params["words"] = (", " if english else "、").join(
                    str(word) for word in reason["words"]
                )
            elif code == "same_province":
                province = str(reason["province"])
                params["name"] = names.provinces.get(province + "0000", province)
            lines.append((str(template) % params).strip())
    return lines
