"""`python manage.py add_note "text"`: dispatch a CreateNoteJob from Django and print its job id."""
from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from notes.jobs import CreateNoteJob


class Command(BaseCommand):
    help = "Queue a job that writes a note"

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("text")

    def handle(self, *args: Any, **options: Any) -> None:
        self.stdout.write(str(CreateNoteJob.dispatch(options["text"])))
