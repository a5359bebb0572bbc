"""Shared by horizon:pause, horizon:continue and horizon:terminate: send a command to masters through the store."""
from __future__ import annotations

from cleo.helpers import option

from app.Console.Command import Command, UsageError
from app.Horizon.HorizonState import HorizonState
from app.Queue.QueueManager import manager

NAME_OPTION = option("name", None, "Only the master with this name (default: every master on every host)", flag=False)


class HorizonSignalCommand(Command):
    """Send `command` to the named master or to all; subclasses set `command` and the message."""

    command = ""
    done = ""

    def send(self) -> list[str]:
        state = HorizonState(manager().cache)
        names = [m["name"] for m in state.masters()]
        wanted = self.option("name")
        if wanted:
            if wanted not in names:
                raise UsageError(f"no running horizon master is named {wanted!r}; running: {', '.join(names) or 'none'}")
            names = [wanted]
        state.send(self.command, names)
        if names:
            self.line(f"<info>{self.done}</info> ({', '.join(names)})")
        else:
            self.line("<comment>No horizon master is running.</comment>")
        return names
