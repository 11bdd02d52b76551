"""Menu entries of the accounts module."""


def register() -> None:
    pass
