"""Serve a seeded Trello sandbox in the foreground: ``python -m sandbox.trello --port 8082``.

Used by the benchmark (the sandbox runs in its own process so its CPU is not counted
as taskhub's), the demo and docker-compose (``taskhub sandbox trello`` calls ``serve``).
Prints one JSON line on stdout when the data is generated — ``{"url", "api", "boards",
"cards", "api_key", "token", "app_secret", "limits"}`` — then serves until interrupted.
The Trello API is at ``url + "/1"``, the control API at ``url + "/_sandbox"``.
"""

from __future__ import annotations

import argparse

from sandbox.trello.server import serve

__all__ = ["main", "serve"]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m sandbox.trello", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8082)
    parser.add_argument("--boards", type=int, default=4)
    parser.add_argument(
        "--seed-cards", type=int, default=240, help="cards to generate, spread over the boards"
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--no-history",
        action="store_true",
        help="skip the back-dated action history (faster start for big sites)",
    )
    parser.add_argument(
        "--no-limits",
        action="store_true",
        help="turn Trello's request limits off (100 / 10 s per token, 300 / 10 s per key)",
    )
    parser.add_argument(
        "--app-secret",
        default=None,
        help="the secret of the app owning the API key: it signs webhook deliveries",
    )
    args = parser.parse_args(argv)
    serve(
        host=args.host,
        port=args.port,
        boards=args.boards,
        seed_cards=args.seed_cards,
        seed=args.seed,
        history=not args.no_history,
        limits=not args.no_limits,
        app_secret=args.app_secret,
    )


if __name__ == "__main__":
    main()
