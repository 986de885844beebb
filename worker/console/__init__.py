"""The console: printrelay's jobs as operators and support staff need them (``printrelay console``).

Flower shows Celery's tasks; the console shows jobs. Find one by anything a person quotes (an
``Order_…``, a shop's own order id, a job id), read its story (the attempts as a timeline, who did
what, what it waits for, the other jobs on the same order), act on it, and see each provider
account at a glance — pause and resume included. Server-rendered pages (Starlette and Jinja2, no
front-end build) over a JSON API (CONTRACT.md, "The console").

- :mod:`~worker.console.auth`: basic auth, an operator who may act and a viewer who reads; the
  form token that keeps other sites from acting
- :mod:`~worker.console.actions`: the one path every action takes (through :class:`worker.admin.Admin`)
- :mod:`~worker.console.views`: what the pages and the API show
- :mod:`~worker.console.api`, :mod:`~worker.console.pages`: the routes
- :mod:`~worker.console.app`: the application
"""

from worker.console.app import create_app
from worker.console.auth import Credentials

__all__ = ["Credentials", "create_app"]
