"""Unread count and latest unread notifications for the bell in the page header."""

from django.utils.functional import SimpleLazyObject

from ibcloud.notify import services


def notifications(request) -> dict:
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    # Lazy: pages without the header (errors, partials) pay no query.
    return {
        "notify_unread_count": SimpleLazyObject(lambda: services.unread_count(user)),
        "notify_latest": SimpleLazyObject(lambda: services.latest_unread(user)),
    }
