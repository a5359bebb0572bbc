"""horizon:terminate: masters stop their workers gracefully (jobs finish), then exit 0; run it on deploy."""
from __future__ import annotations

import time

from cleo.helpers import option

from app.Console.Commands.HorizonSignal import NAME_OPTION, HorizonSignalCommand
from app.Horizon.HorizonState import HorizonState
from app.Queue.QueueManager import manager


class HorizonTerminateCommand(HorizonSignalCommand):
    name = "horizon:terminate"
    description = "Terminate horizon masters gracefully: running jobs finish, then each master exits 0"
    options = [NAME_OPTION, option("wait", None, "Wait until the masters have exited")]
    command = "terminate"
    done = "Sent the terminate command."

    def run_command(self) -> int:
        names = set(self.send())
        if self.option("wait") and names:
            state = HorizonState(manager().cache)
            while names & {m["name"] for m in state.masters()}:
                time.sleep(0.2)
            self.line("<info>Horizon has terminated.</info>")
        return 0
