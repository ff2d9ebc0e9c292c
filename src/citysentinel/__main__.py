"""`python -m citysentinel` runs the command line."""

from citysentinel.cli import main

main()
