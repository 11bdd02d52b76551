"""Per-request checks of logged-in browser sessions.

* Keeps the online-users page honest without writing the session on every request.
* Sends a user who must change their password to the password page until they have.
* Speaks the person's language (:class:`LanguageMiddleware`).
"""

import time

from django.conf import settings
from django.middleware.locale import LocaleMiddleware
from django.urls import reverse
from django.utils import translation

from ibcloud.core.views import redirect

TOUCH_SECONDS = 60

# Paths a user who must change their password may still open: the password page itself, logout,
# the language switch, static files and the API (API clients see the flag in /api/v1/auth/me/).
OPEN_PREFIXES = ("/static/", "/media/", "/i18n/", "/api/")


class SessionActivityMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated:
            now = int(time.time())
            if now - request.session.get("_activity", 0) >= TOUCH_SECONDS:
                # Marking the session modified makes user_sessions save it, updating
                # last_activity and the IP.
                request.session["_activity"] = now
            if user.must_change_password and not self.may_pass(request.path):
                return redirect(request, reverse("accounts:password_change"))
        return self.get_response(request)

    @staticmethod
    def may_pass(path: str) -> bool:
        allowed = (reverse("accounts:password_change"), reverse("accounts:logout"))
        return path in allowed or path.startswith(OPEN_PREFIXES)


class LanguageMiddleware(LocaleMiddleware):
    """The pages' language: the signed-in person's own (kept on the account by the header's
    switch), else the switch's cookie, else the site's (zh-hans).

    Never the browser's ``Accept-Language``: the reminders, digests and reports a person gets
    are written in their own language or the site's, and the pages must say the same; a banker
    whose browser happens to be English still gets the Chinese UI until they pick English. API
    clients (``/api/``), which have no switch, may ask by ``Accept-Language``. Runs after the
    authentication middleware, which gives it the person.
    """

    def process_request(self, request):
        if request.path_info.startswith("/api/"):
            return super().process_request(request)
        user = getattr(request, "user", None)
        language = user.language if user is not None and user.is_authenticated else ""
        language = language or request.COOKIES.get(settings.LANGUAGE_COOKIE_NAME) or ""
        try:
            language = translation.get_supported_language_variant(language)
        except LookupError:
            language = settings.LANGUAGE_CODE
        translation.activate(language)
        request.LANGUAGE_CODE = translation.get_language()
        return None
