"""The `citysentinel` command: run a site, check config, migrate, keys and users, measure."""

from __future__ import annotations

import sys

from citysentinel.cli import learn, measure, site, traffic, users
from citysentinel.cli.common import app

__all__ = ["app", "learn", "main", "measure", "site", "traffic", "users"]


def main() -> None:
    try:
        app()
    except BrokenPipeError:
        sys.exit(0)
