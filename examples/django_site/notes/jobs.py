"""Jobs of the notes app. Importing the models needs Django set up: QUEUE_BOOTSTRAP does that on workers."""
from __future__ import annotations

from typing import Any

from app.Jobs.Job import Job
from notes.models import Note


class CreateNoteJob(Job):
    """Write a note through the ORM; the new row's id is kept as the result."""

    queue = "notes"
    store_result = True

    def __init__(self, text: str) -> None:
        super().__init__()
        self.text = text

    def handle(self) -> dict[str, Any]:
        note = Note.objects.create(text=self.text)
        return {"note_id": note.pk, "count": Note.objects.count()}
