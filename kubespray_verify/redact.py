"""Credentials out of text that may be shown (pure)."""

from __future__ import annotations

import re

_USERINFO = re.compile(r"(?P<scheme>[a-zA-Z][a-zA-Z0-9+.-]*://)[^/@\s]*@")


def redact_url(text: str) -> str:
    """`scheme://user:pass@host` → `scheme://***@host`, anywhere in `text`."""
    return _USERINFO.sub(r"\g<scheme>***@", text)
