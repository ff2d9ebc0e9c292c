"""The `citysentinel` command: run a site, check its config, migrate, manage keys, measure."""

from __future__ import annotations

import sys

from citysentinel.cli import learn, measure, site
from citysentinel.cli.common import app

__all__ = ["app", "learn", "main", "measure", "site"]


def main() -> None:
    try:
        app()
    except BrokenPipeError:
        sys.exit(0)
