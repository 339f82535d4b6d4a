"""Checking Meta's ``X-Hub-Signature-256`` on its webhooks.

Meta signs the raw body of every POST with the app secret: ``sha256=`` and the lower-case hex digest of
HMAC-SHA256(app secret, body). The bytes are checked as they arrived, before any JSON is read: parsing
and encoding again would change them.
"""

from __future__ import annotations

import hashlib
import hmac
import re

SIGNATURE_HEADER = "X-Hub-Signature-256"
_PREFIX = "sha256="
_HEX_DIGEST = re.compile(r"[0-9a-fA-F]{64}")


def signature_of(body: bytes, app_secret: str) -> str:
    """The header value Meta sends with ``body`` signed by ``app_secret``."""
    return _PREFIX + hmac.new(app_secret.encode(), body, hashlib.sha256).hexdigest()


class MetaSignatureVerifier:
    """Checks the signature of Meta's webhooks against an app secret."""

    def is_well_formed(self, header: str | None) -> bool:
        """``sha256=`` and 64 hex digits: the only header that can ever verify."""
        return (
            header is not None
            and header.startswith(_PREFIX)
            and bool(_HEX_DIGEST.fullmatch(header[len(_PREFIX) :]))
        )

    def is_valid(self, *, body: bytes, header: str | None, app_secret: str) -> bool:
        if not app_secret or header is None or not self.is_well_formed(header):
            return False
        expected = signature_of(body, app_secret)
        # Hex digits of either case are the same digest; compared in constant time.
        return hmac.compare_digest(expected.encode(), (_PREFIX + header[len(_PREFIX) :].lower()).encode())
