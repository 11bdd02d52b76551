"""Unread count for the bell in the page header."""


def notifications(request) -> dict:
    return {}
