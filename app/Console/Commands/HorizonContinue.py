"""horizon:continue: paused masters' workers take jobs again."""
from __future__ import annotations

from app.Console.Commands.HorizonSignal import NAME_OPTION, HorizonSignalCommand


class HorizonContinueCommand(HorizonSignalCommand):
    name = "horizon:continue"
    description = "Let paused horizon masters' workers take jobs again"
    options = [NAME_OPTION]
    command = "continue"
    done = "Sent the continue command."

    def run_command(self) -> int:
        self.send()
        return 0
