"""Who may open the dashboard (DESIGN.md §9), and the CSRF token every POST must carry.

Open without credentials only when APP_ENV=local and the server is bound to loopback.
Otherwise QUEUE_DASHBOARD_TOKEN (an `Authorization: Bearer` header, or `?token=` once, which
sets an HttpOnly cookie holding a keyed hash of the token, never the token) or
QUEUE_DASHBOARD_BASIC_AUTH=user:pass must match. POSTs carry `X-CSRF-Token`, an HMAC of a
per-process random secret, which pages embed and cross-site forms cannot read.
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import ipaddress
import secrets
from dataclasses import dataclass, field

from app.Horizon.settings import dashboard_basic_auth, dashboard_token
from config.app import app_env

COOKIE = "queue_dashboard"


def is_loopback(host: str) -> bool:
    """Whether `host` (as given to --host) only listens on this machine."""
    if host in ("localhost", ""):
        return host == "localhost"
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


@dataclass
class AccessPolicy:
    """The settings read once when the dashboard starts, and the checks made per request."""

    open: bool
    token: str | None
    basic: tuple[str, str] | None
    secret: bytes = field(default_factory=lambda: secrets.token_bytes(32))
    # Host headers an open dashboard answers: a page from another site whose name resolves to
    # 127.0.0.1 (DNS rebinding) sends its own name and is refused.
    hosts: frozenset[str] | None = None

    @classmethod
    def from_env(cls, host: str) -> AccessPolicy:
        """Read APP_ENV, QUEUE_DASHBOARD_TOKEN and QUEUE_DASHBOARD_BASIC_AUTH for a server bound to `host`."""
        open_ = app_env() == "local" and is_loopback(host)
        hosts = frozenset({"127.0.0.1", "localhost", "::1", "[::1]", host.lower()}) if open_ else None
        return cls(open_, dashboard_token(), dashboard_basic_auth(), hosts=hosts)

    def host_allowed(self, hostname: str | None) -> bool:
        """Whether an open dashboard may answer a request for `hostname` (always true when not open)."""
        return not self.open or self.hosts is None or (hostname or "").lower() in self.hosts

    @property
    def configured(self) -> bool:
        """Whether anyone can get in at all."""
        return self.open or bool(self.token or self.basic)

    def session_value(self) -> str:
        """The cookie value standing for a valid token (a keyed hash: the cookie never holds the token)."""
        return hmac.new(self.secret, (self.token or "").encode(), hashlib.sha256).hexdigest()

    def csrf_token(self) -> str:
        return hmac.new(self.secret, b"csrf", hashlib.sha256).hexdigest()

    def check_csrf(self, given: str | None) -> bool:
        return bool(given) and hmac.compare_digest(str(given), self.csrf_token())

    def allows(self, authorization: str | None, query_token: str | None, cookie: str | None) -> tuple[bool, bool]:
        """(allowed, set the session cookie) for one request's credentials."""
        if self.open:
            return True, False
        if self.token:
            if cookie and hmac.compare_digest(cookie, self.session_value()):
                return True, False
            if query_token and hmac.compare_digest(query_token, self.token):
                return True, True
            if authorization and authorization.startswith("Bearer ") and hmac.compare_digest(authorization[7:].strip(), self.token):
                return True, False
        if self.basic and authorization and authorization.startswith("Basic "):
            try:
                user, _, password = base64.b64decode(authorization[6:].strip()).decode("utf-8").partition(":")
            except (ValueError, UnicodeDecodeError):
                return False, False
            ok = hmac.compare_digest(user, self.basic[0]) & hmac.compare_digest(password, self.basic[1])
            return ok, False
        return False, False
