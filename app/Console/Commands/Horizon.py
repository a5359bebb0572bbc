"""horizon: run the master process that starts, balances and heals the workers of config/horizon.py."""
from __future__ import annotations

import logging

from cleo.helpers import option

from app.Console.Command import Command
from app.Horizon.HorizonConfig import load
from app.Queue.QueueManager import manager


class HorizonCommand(Command):
    name = "horizon"
    description = "Run the supervisors of config/horizon.py for APP_ENV: workers started, balanced and restarted"
    options = [
        option("name", None, "The master's name (default: this host's name); one master per name", flag=False),
        option("environment", None, "The environment whose supervisors run (default: APP_ENV)", flag=False),
    ]

    def run_command(self) -> int:
        # lazy: the process manager loads only when horizon runs (artisan list builds every command)
        from app.Horizon.Master import Master
        from config.env import env

        qm = manager()
        config = load(qm, self.option("environment") or None)
        for supervisor in config.supervisors:  # fail now on missing tables, a bad APP_KEY or an unreachable server
            qm.connection(supervisor.connection).sizes(supervisor.queues[0])
        qm.codec
        qm.cache.get("horizon:masters")
        if not env("LOG_LEVEL"):
            logging.getLogger("horizon").setLevel(logging.INFO)  # scaling and restarts are what an operator reads
        return Master(qm, config, self.option("name") or None).run()
