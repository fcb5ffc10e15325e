"""Simulated Jira Cloud / Data Center over real HTTP, for tests, the demo and benchmarks.

    state = JiraState()
    generate(state, projects=3, issues_per_project=100, seed=7)
    base_url, stop = run_in_thread(create_app(state))

Never imported by production code paths.
"""

from sandbox.jira.app import create_app
from sandbox.jira.generator import generate
from sandbox.jira.server import run_in_thread, start
from sandbox.jira.state import JiraConfig, JiraState

__all__ = ["JiraConfig", "JiraState", "create_app", "generate", "run_in_thread", "start"]
