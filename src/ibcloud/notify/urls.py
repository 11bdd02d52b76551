from django.urls import path

from ibcloud.notify import views

app_name = "notify"

urlpatterns = [
    path("", views.NotificationListView.as_view(), name="notification_list"),
    path("<int:pk>/open/", views.NotificationOpenView.as_view(), name="notification_open"),
    path("<int:pk>/read/", views.NotificationReadView.as_view(), name="notification_read"),
    path("read-all/", views.NotificationReadAllView.as_view(), name="notification_read_all"),
    path("preferences/", views.PreferencesView.as_view(), name="preferences"),
    path("channels/", views.ChannelListView.as_view(), name="channel_list"),
    path("channels/add/", views.ChannelEditView.as_view(), name="channel_add"),
    path("channels/<int:pk>/", views.ChannelEditView.as_view(), name="channel_edit"),
    path("channels/<int:pk>/delete/", views.ChannelDeleteView.as_view(), name="channel_delete"),
    path("channels/<int:pk>/test/", views.ChannelTestView.as_view(), name="channel_test"),
    path("deliveries/", views.DeliveryListView.as_view(), name="delivery_list"),
]
