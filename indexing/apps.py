from django.apps import AppConfig


class IndexingConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "indexing"
    verbose_name = "Indexing"

    def ready(self) -> None:
        # Registers the Celery tasks in every process, web ones included: services queue them by
        # name (indexing.queue), and a name resolves to its task, eager mode and all, only once
        # registered. Workers find them by autodiscovery too.
        # text_queries registers the TEXT_ENCODER alignment check of `manage.py check`.
        from indexing import tasks, text_queries  # noqa: F401
