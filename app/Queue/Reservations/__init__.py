"""Where a worker's jobs come from: one JobSource (app/Queue/contracts.py) per way of reserving them.

- OneAtATime: one job per call, a blocking pop where the driver can wait, else a pop of each queue in turn.
- AckReservesNext: as OneAtATime, but the ack of a finished job reserves the next one in the same round trip.
- BatchReservations: `--prefetch=N`, up to N jobs reserved in one round trip and started one by one.

`source_for` picks one from the driver's declared abilities, once, when a worker starts.
"""
from __future__ import annotations

from app.Queue.Reservations.AckReservesNext import AckReservesNext
from app.Queue.Reservations.BatchReservations import BatchReservations
from app.Queue.Reservations.choice import source_for
from app.Queue.Reservations.OneAtATime import OneAtATime, ack, ack_then

__all__ = ["AckReservesNext", "BatchReservations", "OneAtATime", "ack", "ack_then", "source_for"]
