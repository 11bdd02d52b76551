"""Error pages: JSON ``{"code", "message", "details"}`` under ``/api/``, HTML pages elsewhere."""

from django.shortcuts import render
from django.utils.translation import gettext as _

from ibcloud.core.rest import json_error_response


def _is_api(request) -> bool:
    return request.path.startswith("/api/")


def bad_request(request, exception=None):
    if _is_api(request):
        return json_error_response(400, "bad_request", _("Bad request."))
    return render(
        request, "core/error.html", {"code": 400, "message": _("Bad request.")}, status=400
    )


def permission_denied(request, exception=None):
    if _is_api(request):
        return json_error_response(403, "permission_denied", _("You do not have permission."))
    message = _("You do not have permission to open this page.")
    return render(request, "core/error.html", {"code": 403, "message": message}, status=403)


def page_not_found(request, exception=None):
    if _is_api(request):
        return json_error_response(404, "not_found", _("Not found."))
    return render(
        request, "core/error.html", {"code": 404, "message": _("Page not found.")}, status=404
    )


def server_error(request):
    if _is_api(request):
        return json_error_response(500, "server_error", _("Internal server error."))
    return render(
        request,
        "core/error.html",
        {"code": 500, "message": _("Internal server error.")},
        status=500,
    )
