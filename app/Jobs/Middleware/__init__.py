"""Job middleware: onion layers around `handle(job, next)`, set in __init__ or returned by `middleware()`.

    from app.Jobs.Middleware import MiddlewareStack, LoggingMiddleware, TimingMiddleware

    class ProcessDataJob(Job):
        def __init__(self):
            super().__init__()
            self.middleware = MiddlewareStack()
            self.middleware.add(LoggingMiddleware())
            self.middleware.add(TimingMiddleware())
"""
from __future__ import annotations

from app.Jobs.Middleware.AuthorizationMiddleware import AuthorizationMiddleware
from app.Jobs.Middleware.FailOnException import FailOnException
from app.Jobs.Middleware.LoggingMiddleware import LoggingMiddleware
from app.Jobs.Middleware.Middleware import JobMiddleware, Middleware
from app.Jobs.Middleware.MiddlewareStack import MiddlewareStack
from app.Jobs.Middleware.RateLimitedMiddleware import RateLimitedMiddleware
from app.Jobs.Middleware.RetryMiddleware import RetryMiddleware
from app.Jobs.Middleware.Skip import Skip
from app.Jobs.Middleware.ThrottleMiddleware import ThrottleMiddleware, ThrottlesExceptions
from app.Jobs.Middleware.TimingMiddleware import TimingMiddleware, execution_time
from app.Jobs.Middleware.WithoutOverlapping import WithoutOverlapping

__all__ = [
    "AuthorizationMiddleware", "FailOnException", "JobMiddleware", "LoggingMiddleware", "Middleware", "MiddlewareStack",
    "RateLimitedMiddleware", "RetryMiddleware", "Skip", "ThrottleMiddleware", "ThrottlesExceptions", "TimingMiddleware",
    "WithoutOverlapping", "execution_time",
]
