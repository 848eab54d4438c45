"""A Pushgateway-compatible push endpoint for batch jobs: groups of metrics kept in
memory and on disk, served back as one exposition for a normal scrape job."""
