"""The command line: typer commands that turn options into a Config and a Plan, and an Ending into an exit code.

Nothing here checks, prints a report or starts a process: that is `run/`'s.
"""
