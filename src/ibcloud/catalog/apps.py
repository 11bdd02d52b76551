from django.apps import AppConfig
from django.db.models.signals import post_migrate
from django.utils.translation import gettext_lazy as _


class CatalogConfig(AppConfig):
    name = "ibcloud.catalog"
    label = "catalog"
    verbose_name = _("Catalog")

    def ready(self) -> None:
        from ibcloud.catalog import (  # noqa: F401 - registrations
            dashboard_tasks,
            home_widgets,
            menu,
            receivers,
            tasks,
        )
        from ibcloud.catalog.normalization import rules  # noqa: F401 - cache receivers
        from ibcloud.catalog.search import repair_index

        # a later migration that rebuilds a SQLite table drops the full-text triggers
        post_migrate.connect(repair_index, sender=self, dispatch_uid="catalog_search_index")
