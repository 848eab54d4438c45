"""Dashboards: the ones tidewatch ships, provisioned folders, and saved ones in SQLite."""

from tidewatch.dashboards.model import DashboardRecord, FolderRecord, slugify
from tidewatch.dashboards.service import DashboardService, SaveError

__all__ = ["DashboardRecord", "DashboardService", "FolderRecord", "SaveError", "slugify"]
