"""A minimal Django project whose jobs run on this framework's workers."""
