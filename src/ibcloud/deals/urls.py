"""Deals UI URLs."""

app_name = "deals"

urlpatterns: list = []
