"""Template context shared by every page of the shell."""

from django.conf import settings

from ibcloud.core.menu import visible_menu


def shell(request) -> dict:
    user = getattr(request, "user", None)
    return {
        "menu": visible_menu(user) if user is not None else [],
        "LANGUAGES": settings.LANGUAGES,
    }
