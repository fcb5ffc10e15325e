"""Serve a seeded Jira sandbox in the foreground: ``python -m sandbox.jira --port 8081``.

Used by the benchmark (the sandbox runs in its own process so its CPU is not counted
as taskhub's), the demo and docker-compose (``taskhub sandbox jira`` calls ``serve``).
Prints one JSON line on stdout when the data is generated — ``{"url", "issues",
"worklogs", "email", "api_token", "pat", ...}`` — then serves until interrupted.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

__all__ = ["serve", "build_state", "main"]


def build_state(*, seed_issues: int, projects: int, seed: int = 7, deployment: str = "Cloud",
                time_zone: str | None = None, worklog_feed_delay_ms: int | None = None) -> tuple[Any, dict[str, Any]]:
    """A generated site: ``seed_issues`` spread evenly over ``projects`` (at least one each)."""
    from sandbox.jira import JiraConfig, JiraState, generate

    config = JiraConfig(deployment=deployment)  # type: ignore[arg-type]
    if time_zone:
        config.time_zone = time_zone
    if worklog_feed_delay_ms is not None:
        config.worklog_feed_delay_ms = worklog_feed_delay_ms
    state = JiraState(config)
    projects = max(1, projects)
    per_project = max(1, -(-seed_issues // projects)) if seed_issues > 0 else 0
    info = generate(state, projects=projects, issues_per_project=per_project, seed=seed)
    return state, info


def serve(*, host: str = "127.0.0.1", port: int = 8081, seed_issues: int = 500, projects: int = 3, seed: int = 7,
          deployment: str = "Cloud", time_zone: str | None = None, worklog_feed_delay_ms: int | None = None,
          log_level: str = "warning") -> None:
    """Generate the site, print the ready line, serve until interrupted (blocking)."""
    import uvicorn

    from sandbox.jira import create_app

    state, info = build_state(seed_issues=seed_issues, projects=projects, seed=seed, deployment=deployment,
                              time_zone=time_zone, worklog_feed_delay_ms=worklog_feed_delay_ms)
    url = f"http://{host}:{port}"
    state.config.base_url = url
    cfg = state.config
    ready = {"url": url, "deployment": cfg.deployment, **info, "email": cfg.email, "api_token": cfg.api_token,
             "pat": cfg.pat, "time_zone": cfg.time_zone}
    sys.stdout.write(json.dumps(ready) + "\n")
    sys.stdout.flush()
    try:
        uvicorn.run(create_app(state), host=host, port=port, log_level=log_level, access_log=False,
                    lifespan="off", http="h11", ws="none")
    finally:
        state.close()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m sandbox.jira", description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8081)
    parser.add_argument("--seed-issues", type=int, default=500, help="issues to generate (spread over projects)")
    parser.add_argument("--projects", type=int, default=3)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--deployment", choices=("Cloud", "DataCenter", "Server"), default="Cloud")
    parser.add_argument("--time-zone", default=None, help="the API user's zone (default America/Los_Angeles)")
    parser.add_argument("--worklog-feed-delay-ms", type=int, default=None,
                        help="the worklog feeds hide changes younger than this (Jira: 60000)")
    args = parser.parse_args(argv)
    serve(host=args.host, port=args.port, seed_issues=args.seed_issues, projects=args.projects, seed=args.seed,
          deployment=args.deployment, time_zone=args.time_zone, worklog_feed_delay_ms=args.worklog_feed_delay_ms)


if __name__ == "__main__":
    main()
