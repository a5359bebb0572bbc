"""The notes app: one model, one job that writes it through the ORM."""
