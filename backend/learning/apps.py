from django.apps import AppConfig


class LearningConfig(AppConfig):
    name = "backend.learning"
    label = "learning"
