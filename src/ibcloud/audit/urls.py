from django.urls import path

from ibcloud.audit import views

app_name = "audit"

urlpatterns = [
    path("", views.EntryListView.as_view(), name="entry_list"),
    path("<int:pk>/", views.EntryDetailView.as_view(), name="entry_detail"),
]
