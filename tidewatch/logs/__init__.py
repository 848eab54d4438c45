"""Logs: the log store, LogQL and the file-tailing agent."""
