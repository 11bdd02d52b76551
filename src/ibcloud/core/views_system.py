"""Pages of the system module kept by ``core``: home, dictionaries, parameters, jobs."""

from django.contrib.auth.mixins import LoginRequiredMixin
from django.shortcuts import render
from django.utils.translation import gettext as _
from django.views import View


class HomeView(LoginRequiredMixin, View):
    def get(self, request):
        return render(request, "core/home.html", {"title": _("Home")})
