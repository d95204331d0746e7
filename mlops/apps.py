from django.apps import AppConfig


class MlopsConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "mlops"
    verbose_name = "MLOps"
