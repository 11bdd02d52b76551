from django.urls import path

from ibcloud.core import views_system as views
from ibcloud.core.views import TableColumnsView

app_name = "core"

urlpatterns = [
    path("", views.HomeView.as_view(), name="home"),
    path("table-columns/", TableColumnsView.as_view(), name="table_columns"),
    # Dictionaries
    path("system/dictionaries/", views.DictTypeListView.as_view(), name="dicttype_list"),
    path("system/dictionaries/add/", views.DictTypeEditView.as_view(), name="dicttype_add"),
    path(
        "system/dictionaries/<int:pk>/", views.DictTypeDetailView.as_view(), name="dicttype_detail"
    ),
    path(
        "system/dictionaries/<int:pk>/edit/", views.DictTypeEditView.as_view(), name="dicttype_edit"
    ),
    path(
        "system/dictionaries/<int:pk>/delete/",
        views.DictTypeDeleteView.as_view(),
        name="dicttype_delete",
    ),
    path(
        "system/dictionaries/<int:type_pk>/items/add/",
        views.DictItemEditView.as_view(),
        name="dictitem_add",
    ),
    path(
        "system/dictionary-items/<int:pk>/edit/",
        views.DictItemEditView.as_view(),
        name="dictitem_edit",
    ),
    path(
        "system/dictionary-items/<int:pk>/delete/",
        views.DictItemDeleteView.as_view(),
        name="dictitem_delete",
    ),
    path(
        "system/dictionary-items/<int:pk>/move/",
        views.DictItemMoveView.as_view(),
        name="dictitem_move",
    ),
    # Parameters
    path("system/parameters/", views.ParameterListView.as_view(), name="parameter_list"),
    path(
        "system/parameters/<str:key>/edit/",
        views.ParameterEditView.as_view(),
        name="parameter_edit",
    ),
    # Jobs
    path("system/jobs/", views.JobListView.as_view(), name="job_list"),
    path("system/jobs/<int:pk>/", views.JobDetailView.as_view(), name="job_detail"),
    path("system/jobs/<int:pk>/cancel/", views.JobCancelView.as_view(), name="job_cancel"),
]
