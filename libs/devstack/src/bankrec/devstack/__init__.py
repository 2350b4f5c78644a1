"""Run the bankrec services as local processes: the demo and the end-to-end tests use it."""

from bankrec.devstack.processes import (
    SERVICE_NAMES,
    ServiceProcess,
    ServiceStack,
    ServiceStartError,
    StackConfig,
    free_port,
)

__all__ = [
    "SERVICE_NAMES",
    "ServiceProcess",
    "ServiceStack",
    "ServiceStartError",
    "StackConfig",
    "free_port",
]
