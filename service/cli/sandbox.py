"""``taskhub sandbox ...``: serve a simulated vendor site for the demo, docker-compose and
benchmarks. Never used by the production paths; the sandbox packages load lazily, inside the
commands (tests/test_architecture.py checks both)."""

from __future__ import annotations

from typing import Annotated

import typer

from service.cli.common import fail, sandbox_app

# --- Jira -----------------------------------------------------------------------------


@sandbox_app.command("jira")
def sandbox_jira(
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8081,
    host: Annotated[str, typer.Option(help="Bind address (0.0.0.0 inside a container).")] = "127.0.0.1",
    seed_issues: Annotated[int, typer.Option(help="Issues to generate, spread evenly over the projects.")] = 500,
    projects: Annotated[int, typer.Option(help="Projects to generate.")] = 3,
    seed: Annotated[int, typer.Option(help="Generator seed (same seed, same site).")] = 7,
    deployment: Annotated[str, typer.Option(help="Cloud | DataCenter | Server")] = "Cloud",
    time_zone: Annotated[str | None, typer.Option(help="The API user's zone (JQL dates are read in it).")] = None,
) -> None:
    """Serve a seeded Jira Cloud (or Data Center) sandbox until interrupted.

    Prints one JSON line first: the URL and the credentials to register it as a source with.
    """
    if deployment not in ("Cloud", "DataCenter", "Server"):
        fail(f"--deployment must be Cloud, DataCenter or Server, not {deployment!r}")
    if seed_issues < 0 or projects < 1:
        fail("--seed-issues must be >= 0 and --projects >= 1")
    from sandbox.jira.__main__ import serve

    try:
        serve(host=host, port=port, seed_issues=seed_issues, projects=projects, seed=seed, deployment=deployment,
              time_zone=time_zone)
    except KeyboardInterrupt:
        pass


# --- Trello -----------------------------------------------------------------------------
# `taskhub sandbox trello` is added here (same shape: port, host, seed size, one JSON ready line).


@sandbox_app.command("trello")
def sandbox_trello(
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8082,
    host: Annotated[str, typer.Option(help="Bind address (0.0.0.0 in a container).")] = "127.0.0.1",
    seed_cards: Annotated[int, typer.Option(help="Cards, spread evenly over the boards.")] = 240,
    boards: Annotated[int, typer.Option(help="Boards to generate.")] = 4,
    seed: Annotated[int, typer.Option(help="Generator seed (same seed, same site).")] = 0,
    limits: Annotated[
        bool, typer.Option(help="Enforce Trello's limits (100 / 10 s per token, 300 per key).")
    ] = True,
    history: Annotated[bool, typer.Option(help="Generate the back-dated action history.")] = True,
    app_secret: Annotated[str | None, typer.Option(
        help="The secret of the app owning the API key; it signs webhook deliveries (default: the "
             "sandbox's; more apps: PUT /_sandbox/apps/{key}).")] = None,
) -> None:
    """Serve a seeded Trello sandbox until interrupted (API at URL/1, control at URL/_sandbox).

    Prints one JSON line first: the URL, board ids, and the key / token / app secret to
    register it with.
    """
    if seed_cards < 0 or boards < 1:
        fail("--seed-cards must be >= 0 and --boards >= 1")
    from sandbox.trello.server import serve

    try:
        serve(host=host, port=port, boards=boards, seed_cards=seed_cards, seed=seed,
              limits=limits, history=history, app_secret=app_secret)
    except KeyboardInterrupt:
        pass
