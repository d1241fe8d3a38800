"""Root URLs: the restore app owns every page; Django's admin stays available for superusers."""

from __future__ import annotations

from django.contrib import admin
from django.urls import include, path

urlpatterns = [
    path("admin/", admin.site.urls),
    path("", include("restore.urls")),
]
