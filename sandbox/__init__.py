"""A local stand-in for the five providers' APIs, faithful to their documents.

Each provider is mounted under its own prefix, so one server stands in for all of them::

    http://127.0.0.1:9000/printeers/v2      PRINTRELAY_PRINTEERS__BASE_URL

``/_sandbox/…`` is the control panel the tests, the demo and the benchmarks use: knobs for
latency, error rates, outages and one-off faults, a request log, and each provider's state.
"""

from sandbox.app import create_app

__all__ = ["create_app"]
