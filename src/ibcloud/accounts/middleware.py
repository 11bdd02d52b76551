"""Keeps the online-users page honest without writing the session on every request."""

import time

TOUCH_SECONDS = 60


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
        return self.get_response(request)
