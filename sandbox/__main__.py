"""``python -m sandbox [--host H] [--port N]`` (also ``printrelay sandbox``)."""

from __future__ import annotations

import argparse

from sandbox.server import serve


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m sandbox", description="printrelay's provider sandbox")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=9000)
    args = parser.parse_args()
    serve(args.host, args.port)


if __name__ == "__main__":
    main()
