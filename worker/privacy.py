"""Customer data and secrets in payloads: masked where people look, scrubbed once it is old.

A payload is the provider's request body, so an order's carries the customer's name, address,
e-mail and phone number. Each adapter names where (``customer_data``, as paths of
:mod:`worker.payload_paths`), and the keys in :data:`CUSTOMER_KEYS` count as customer data
wherever they appear, a backstop for a field an adapter does not name.

- :func:`masked`: what the console shows of a payload — customer data and secrets
  (``secret_fields``, the provider's settings' secrets) replaced by :data:`MASK`;
- :func:`scrubbed`: what retention keeps of a finished job's payload after
  ``PRINTRELAY_RETENTION__SCRUB_DAYS`` — customer data replaced by :data:`SCRUBBED`, the rest
  (product references, quantities, the shop's own order id) kept, so the job still says what it was.

    >>> from worker.adapters import ADAPTERS
    >>> scrubbed(ADAPTERS["printapi"], {"id": "1001", "email": "jo@example.com", "items": []})
    {'id': '1001', 'email': '[scrubbed]', 'items': []}

Warning: a scrubbed payload cannot be sent again; admin refuses to replay or retry such a job.
"""

from __future__ import annotations

import json
from typing import Any

from worker.adapters.base import Adapter
from worker.payload_paths import replace_at
from worker.redact import Redactor

MASK = "•••"
SCRUBBED = "[scrubbed]"
#: Keys that hold customer data in any provider's payload (compared in lower case).
CUSTOMER_KEYS = frozenset({"email", "phone", "phonenumber", "firstname", "lastname", "surname", "username"})


def masked(adapter: Adapter[Any] | None, payload: Any, redactor: Redactor | None = None) -> Any:
    """``payload`` as a person may see it: no customer data, no secrets."""
    paths = (*adapter.customer_data, *adapter.secret_fields) if adapter is not None else ()
    shown = _replace(payload, paths, MASK)
    if redactor is not None:  # a settings secret pasted into a payload by mistake
        shown = json.loads(redactor.redact(json.dumps(shown)))
    return shown


def scrubbed(adapter: Adapter[Any] | None, payload: Any) -> Any:
    """``payload`` without its customer data."""
    return _replace(payload, adapter.customer_data if adapter is not None else (), SCRUBBED)


def is_scrubbed(payload: Any) -> bool:
    """Whether retention replaced anything in ``payload``."""
    return f'"{SCRUBBED}"' in json.dumps(payload)


def _replace(payload: Any, paths: tuple[str, ...], marker: str) -> Any:
    for path in paths:
        payload = replace_at(payload, path, lambda value: marker)
    return _by_key(payload, marker)


def _by_key(value: Any, marker: str) -> Any:
    if isinstance(value, dict):
        return {
            k: (replace_at(v, "", lambda _: marker) if k.lower() in CUSTOMER_KEYS and v is not None else _by_key(v, marker))
            for k, v in value.items()
        }
    if isinstance(value, list):
        return [_by_key(v, marker) for v in value]
    return value
