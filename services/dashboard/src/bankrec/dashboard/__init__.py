"""bankrec dashboard: the web page for one tenant's accounts, suspense queue, periods and the
live flow of the topics.

A thin backend-for-frontend: it calls the services' APIs with the tenant's own key and reads
the topics (no group) for the flow; ``create_app`` builds it; the arithmetic is in ``domain``.
"""

from bankrec.dashboard.bootstrap import create_app
from bankrec.dashboard.settings import DashboardSettings

__all__ = ["DashboardSettings", "create_app"]
