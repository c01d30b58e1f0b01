from django.core.management.base import BaseCommand

from backend.accounts.models import Experience, Role
from backend.accounts.services import reader_ensure

DEMO_USERS = [
    ("admin", "admin-demo-pass", Experience.SENIOR, Role.ADMIN),
    ("senior", "senior-demo-pass", Experience.SENIOR, Role.READER),
    ("junior", "junior-demo-pass", Experience.JUNIOR, Role.READER),
]


class Command(BaseCommand):
    help = "Create the demo admin and readers (idempotent) and print their credentials."

    def handle(self, *args, **options) -> None:
        self.stdout.write("Demo accounts (username / password):")
        for username, password, experience, role in DEMO_USERS:
            _, created = reader_ensure(username=username, password=password, experience=experience, role=role)
            state = "created" if created else "exists"
            self.stdout.write(f"  {username:<8} / {password:<18} {experience} {role} ({state})")
