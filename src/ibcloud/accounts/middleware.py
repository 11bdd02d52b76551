"""Per-request checks of logged-in browser sessions.

* Keeps the online-users page honest without writing the session on every request.
* Sends a user who must change their password to the password page until they have.
"""

import time

from django.urls import reverse

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
