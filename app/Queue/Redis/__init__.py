"""Redis plumbing shared by the driver and the stores: clients, held connections, the record, failed jobs."""
