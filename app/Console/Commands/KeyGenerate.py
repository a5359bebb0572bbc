"""key:generate: write a new APP_KEY into .env."""
from __future__ import annotations

import base64
import os
import re

from app.Console.Command import Command, UsageError
from cleo.helpers import option
from config.env import env_file, reload


def generate_key() -> str:
    """Make `base64:` + 32 random bytes."""
    return "base64:" + base64.b64encode(os.urandom(32)).decode("ascii")


def write_key(key: str) -> None:
    """Set APP_KEY in .env, creating the file (from .env.example when present) if needed."""
    path = env_file()
    if path.exists():
        text = path.read_text()
    else:
        example = path.with_name(".env.example")
        text = example.read_text() if example.exists() else ""
    if re.search(r"^APP_KEY=.*$", text, flags=re.M):
        text = re.sub(r"^APP_KEY=.*$", f"APP_KEY={key}", text, count=1, flags=re.M)
    else:
        text = f"APP_KEY={key}\n" + text
    path.write_text(text)
    reload()


class KeyGenerateCommand(Command):
    name = "key:generate"
    description = "Set APP_KEY in .env (signs and encrypts job payloads)"
    options = [
        option("show", None, "Print a key instead of writing it"),
        option("force", None, "Replace an existing key (queued jobs signed with it can no longer run)"),
    ]

    def run_command(self) -> int:
        key = generate_key()
        if self.option("show"):
            self.line(key)
            return 0
        path = env_file()
        current = re.search(r"^APP_KEY=(.+)$", path.read_text(), flags=re.M) if path.exists() else None
        if current and current.group(1).strip() and not self.option("force"):
            raise UsageError(
                f"APP_KEY is already set in {path}; use --force to replace it "
                "(add the old key to APP_PREVIOUS_KEYS so queued jobs still run)"
            )
        write_key(key)
        self.line(f"<info>Application key set</info> in {path}.")
        return 0
