"""LogQL: parser, pipeline and engine for log and metric queries."""
