"""Every environment variable the settings read is documented in .env.example."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _documented() -> set[str]:
    text = (ROOT / ".env.example").read_text(encoding="utf-8")
    return set(re.findall(r"^([A-Z][A-Z0-9_]*)=", text, flags=re.MULTILINE))


def test_every_setting_read_from_the_environment_is_documented() -> None:
    read = set()
    for path in [ROOT / "marketplace" / "settings.py", ROOT / "tests" / "settings.py"]:
        source = path.read_text(encoding="utf-8")
        read |= set(re.findall(r"env(?:\.[a-z_]+)?\(\s*\"([A-Z][A-Z0-9_]*)\"", source))
        read |= set(re.findall(r"os\.environ\.get\(\s*\"([A-Z][A-Z0-9_]*)\"", source))
    assert read, "the settings read no variables?"
    assert read - _documented() == set()
