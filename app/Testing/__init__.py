"""Test helpers shipped with the framework: QueueFake, BusFake and their pytest fixtures."""
