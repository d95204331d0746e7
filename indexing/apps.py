from django.apps import AppConfig


class IndexingConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "indexing"
    verbose_name = "Indexing"
