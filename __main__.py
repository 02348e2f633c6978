"""voting-app: read the stack config, deploy one VotingApp, export its endpoints."""

from __future__ import annotations

import signal

import pulumi

from components.app.voting_app import VotingApp
from components.cluster.provider import cluster_provider
from components.stack.config import load_stack_config
from components.stack.reader import ConfigError


def leave_cancellation_to_the_engine() -> None:
    """A Ctrl-C or a CI cancel reaches every process of the run; the CLI then finishes the
    operations in flight and ends the program itself. Interrupted on its own, the program would
    only print a Python traceback into the run's output."""
    for interrupt in (signal.SIGINT, signal.SIGTERM):
        signal.signal(interrupt, signal.SIG_IGN)


def main() -> None:
    leave_cancellation_to_the_engine()
    try:
        config = load_stack_config()
    except ConfigError as error:
        # RunError ends the program with the message alone: no traceback, nothing registered.
        raise pulumi.RunError(str(error)) from error
    for note in config.notes:
        pulumi.log.warn(note)

    provider = cluster_provider("cluster", config.cluster)
    app = VotingApp("voting-app", config.app, pulumi.ResourceOptions(provider=provider))

    pulumi.export("namespace", app.namespace_name)
    pulumi.export("vote_url", app.vote_url)
    pulumi.export("result_url", app.result_url)
    pulumi.export("service_names", app.service_names)


main()
