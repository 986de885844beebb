"""Who is asking: HTTP basic auth with two roles, and the guard that keeps other sites from acting.

``PRINTRELAY_CONSOLE__BASIC_AUTH`` (``user:password``) is the operator, who may act;
``PRINTRELAY_CONSOLE__VIEWER_AUTH`` is an optional second login that only reads. Every request
needs one of them (401 otherwise) unless the console was started ``--unauthenticated``, where
everyone is the operator "anonymous".

A browser signed in with basic auth sends the credentials to the console on any request, also
one a page of another site makes it send. So an action is answered only when it carries what
another site cannot produce: a JSON body (``Content-Type: application/json`` cannot be sent
cross-site without the console agreeing to a preflight, which it never does), or the form token
of the console's own pages (an HMAC of the user's name under a key made when the console
started; another site cannot read the page that holds it).

    >>> credentials = Credentials("ops:s3cret", "support:readonly")
    >>> credentials.check(basic("support", "readonly"))
    User(name='support', may_act=False)
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import secrets
from dataclasses import dataclass


@dataclass(frozen=True)
class User:
    name: str
    may_act: bool

    @property
    def actor(self) -> str:
        """What an action records as its author (``job_events``, ``provider_events``)."""
        return f"console:{self.name}"


ANONYMOUS = User("anonymous", may_act=True)


def basic(user: str, password: str) -> str:
    """The ``Authorization`` header for ``user:password`` (for clients and tests)."""
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


def _split(pair: str | None) -> tuple[str, str] | None:
    if not pair:
        return None
    user, sep, password = pair.partition(":")
    if not sep or not user:
        raise ValueError("must be user:password")
    return user, password


class Credentials:
    def __init__(self, operator: str | None, viewer: str | None = None, *, unauthenticated: bool = False) -> None:
        self.unauthenticated = unauthenticated and operator is None
        self._logins = [(login, may_act) for login, may_act in ((_split(operator), True), (_split(viewer), False)) if login is not None]

    def check(self, header: str | None) -> User | None:
        """The user an ``Authorization`` header names, if its password is right (compared in
        constant time); ``None`` otherwise."""
        if self.unauthenticated:
            return ANONYMOUS
        if not header or not header.lower().startswith("basic "):
            return None
        try:
            user, _, password = base64.b64decode(header[6:].strip(), validate=True).decode().partition(":")
        except (binascii.Error, UnicodeDecodeError):
            return None
        found = None
        for (name, secret), may_act in self._logins:
            # both compared, whatever the first says: the time taken tells nothing
            if hmac.compare_digest(user.encode(), name.encode()) & hmac.compare_digest(password.encode(), secret.encode()):
                found = User(name, may_act)
        return found


class FormTokens:
    """The token a page's forms carry: an HMAC of the user's name under a key of this process."""

    def __init__(self, key: bytes | None = None) -> None:
        self._key = key or secrets.token_bytes(32)

    def token(self, user: User) -> str:
        return hmac.new(self._key, user.name.encode(), hashlib.sha256).hexdigest()

    def valid(self, user: User, token: str | None) -> bool:
        return token is not None and hmac.compare_digest(self.token(user), token)
