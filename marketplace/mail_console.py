"""The development mail backend: each mail printed readably in the worker's log."""

from __future__ import annotations

from typing import Any

from django.core.mail.backends.console import EmailBackend as DjangoConsoleBackend


class ConsoleEmailBackend(DjangoConsoleBackend):
    """Django's console backend prints the raw message, whose Chinese subject is encoded
    (=?utf-8?b?…?=) and cannot be read; this one prints the headers and the body as text."""

    def write_message(self, message: Any) -> None:
        headers = [
            ("Subject", message.subject),
            ("From", message.from_email),
            ("To", ", ".join(message.to)),
            ("Cc", ", ".join(message.cc)),
        ]
        lines = [f"{name}: {value}" for name, value in headers if value]
        attachments = len(message.attachments)
        if attachments:
            lines.append(f"Attachments: {attachments}")
        self.stream.write("\n".join(lines) + "\n\n" + str(message.body).rstrip("\n") + "\n")
        self.stream.write("-" * 79 + "\n")
