"""Hardware monitoring pages; ``monitor/urls.py`` includes these (names ``node_list``,
``node_detail``, ``node_delete``)."""

from django.urls import path

from ibcloud.monitor import node_views

urlpatterns = [
    path("nodes/", node_views.NodeListView.as_view(), name="node_list"),
    path("nodes/<int:pk>/", node_views.NodeDetailView.as_view(), name="node_detail"),
    path("nodes/<int:pk>/delete/", node_views.NodeDeleteView.as_view(), name="node_delete"),
]
