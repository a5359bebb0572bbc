"""horizon:pause: the masters' workers finish their current job and take no more until horizon:continue."""
from __future__ import annotations

from app.Console.Commands.HorizonSignal import NAME_OPTION, HorizonSignalCommand


class HorizonPauseCommand(HorizonSignalCommand):
    name = "horizon:pause"
    description = "Pause every horizon master's workers (running jobs finish; no new jobs until horizon:continue)"
    options = [NAME_OPTION]
    command = "pause"
    done = "Sent the pause command."

    def run_command(self) -> int:
        self.send()
        return 0
