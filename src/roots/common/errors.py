"""Errors that speak to the user."""


class UserError(Exception):
    """Bad input or configuration: the CLI prints it as one clear line (what, where, what to do)."""


def missing_extra(package: str, extra: str) -> UserError:
    """The error for an optional dependency that is not installed."""
    return UserError(f"this needs the optional package {package!r}: pip install 'roots[{extra}]'")
