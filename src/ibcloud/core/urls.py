from django.urls import path

from ibcloud.core import views_system

app_name = "core"

urlpatterns = [
    path("", views_system.HomeView.as_view(), name="home"),
]
