"""``taskhub demo``: the one command that shows the whole product."""

from __future__ import annotations

import faulthandler
import logging
import signal
import sys
from pathlib import Path
from typing import Annotated

import typer

from service.cli.common import app, bindable_port, fail, progress_printer


@app.command()
def demo(
    port: Annotated[int, typer.Option(help="Port for the dashboard and API (0: any free port).")] = 8000,
    host: Annotated[str, typer.Option(help="Bind address.")] = "127.0.0.1",
    data_dir: Annotated[Path, typer.Option(help="Where the demo keeps its (fresh) SQLite database.")] = Path(
        ".taskhub-demo"),
    jira_issues: Annotated[int, typer.Option(help="Issues per Jira project (3 projects).")] = 420,
    trello_cards: Annotated[int, typer.Option(help="Cards per Trello board (4 boards).")] = 190,
    trickle: Annotated[float, typer.Option(help="Seconds between live changes (0: none).")] = 2.0,
    jira_port: Annotated[int, typer.Option(help="Port of the simulated Jira (0: any free port).")] = 0,
    trello_port: Annotated[int, typer.Option(help="Port of the simulated Trello (0: any free port).")] = 0,
) -> None:
    """Simulated Jira + Trello, initial sync, live webhooks, dashboard — until Ctrl-C."""
    from service.demo import Demo, DemoOptions, print_banner

    if jira_issues < 1 or trello_cards < 1:
        fail("--jira-issues and --trello-cards must be at least 1")
    if trickle < 0:
        fail("--trickle cannot be negative")
    _check_ports(host, port=port, jira_port=jira_port, trello_port=trello_port)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s %(message)s")
    tty = sys.stdout.isatty()

    def say(line: str) -> None:
        typer.echo(line)

    opts = DemoOptions(port=port, host=host, data_dir=data_dir, jira_issues_per_project=jira_issues,
                       trello_cards_per_board=trello_cards, trickle_seconds=trickle, jira_port=jira_port,
                       trello_port=trello_port)
    bar, progress = progress_printer(tty)
    pid_file: Path | None = None
    d = Demo(opts, say=say, progress=progress)
    signal.signal(signal.SIGTERM, lambda *_: d.stop_event.set())
    # Ctrl-C stops the demo even when it was started with SIGINT ignored (a shell's background
    # job without job control, `nohup`): Python then installs no KeyboardInterrupt handler itself.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        if bar is not None:
            with bar:
                d.start()
        else:
            d.start()
        pid_file = _write_pid(data_dir)  # before the banner: whoever reads it may run `make stop`
        print_banner(d, say)
        d.wait()
    except KeyboardInterrupt:
        pass
    except OSError as exc:
        d.stop()
        fail(f"cannot start the demo: {exc} (is a port taken? try --port 0, or leave out --jira-port and "
             "--trello-port)", code=1)
    finally:
        if pid_file is not None:
            pid_file.unlink(missing_ok=True)
        typer.echo("stopping …")
        # Should stopping ever hang, every thread's stack goes to stderr after 15 s: the evidence.
        faulthandler.dump_traceback_later(15)
        d.stop()


def _check_ports(host: str, **ports: int) -> None:
    """Each chosen port in range, distinct and free (the simulated tools listen on loopback), else
    a one-line error before anything starts; 0 lets each server pick a free port."""
    chosen = {name: value for name, value in ports.items() if value}
    for name, value in ports.items():
        if not 0 <= value <= 65535:
            fail(f"--{name.replace('_', '-')} must be between 0 and 65535, not {value}")
    if len(set(chosen.values())) < len(chosen):
        fail("--port, --jira-port and --trello-port must differ")
    for name, value in chosen.items():
        bindable_port(host if name == "port" else "127.0.0.1", value)


def _write_pid(data_dir: Path) -> Path:
    """``<data dir>/demo.pid``, for ``make stop`` (SIGTERM: the same clean stop as Ctrl-C) when
    the demo runs in the background; written after start, which empties the data dir."""
    import os

    path = data_dir / "demo.pid"
    path.write_text(f"{os.getpid()}\n")
    return path
