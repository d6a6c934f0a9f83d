"""``python -m app.users add|remove|list|passwd NAME``: manage password accounts for the explorer.

Passwords are read from the terminal (twice), or from standard input with ``--password-stdin``
(scripts); they are never taken from the command line, where other users could read them.
"""

from __future__ import annotations

import argparse
import getpass
import sys

from app.auth.users import UserStore, UserStoreError
from app.config import AppConfig, ConfigError


def _read_password(from_stdin: bool) -> str:
    if from_stdin:
        return sys.stdin.readline().rstrip("\n")
    first = getpass.getpass("Password: ")
    if first != getpass.getpass("Password again: "):
        raise UserStoreError("the two passwords differ")
    return first


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m app.users", description=__doc__.splitlines()[0])
    parser.add_argument("command", choices=("add", "remove", "list", "passwd"))
    parser.add_argument("username", nargs="?")
    parser.add_argument("--password-stdin", action="store_true", help="read the password from standard input")
    args = parser.parse_args(argv)
    try:
        store = UserStore(AppConfig.from_env().resolved_cohort_db)
        if args.command == "list":
            print("\n".join(store.list()) or "(no users)")
            return 0
        if not args.username:
            raise UserStoreError(f"{args.command} needs a user name")
        if args.command == "add":
            store.add(args.username, _read_password(args.password_stdin))
        elif args.command == "passwd":
            store.set_password(args.username, _read_password(args.password_stdin))
        else:
            store.remove(args.username)
    except (UserStoreError, ConfigError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    print(f"{args.command}: {args.username}: done")
    return 0


if __name__ == "__main__":
    sys.exit(main())
