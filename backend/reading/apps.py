from django.apps import AppConfig


class ReadingConfig(AppConfig):
    name = "backend.reading"
    label = "reading"
