from django.apps import AppConfig


class DemoConfig(AppConfig):
    """The demo of `make run` and the simulated reading: above every domain app, it drives them all."""

    name = "backend.demo"
    label = "demo"
