"""Scraping: exposition parsing, relabeling, service discovery, scrape loops and staleness.

- ``exposition``: text 0.0.4 / OpenMetrics 1.0 parsers (``iter_samples``, ``parse_exposition``)
- ``relabel``: every Prometheus relabel action (``compile_relabel``, ``relabel``)
- ``discovery``: static, file and HTTP service discovery
- ``target``: discovered labels -> target labels, URL, schedule offset
- ``scraper``: the HTTP request of one scrape
- ``scrape_loop``: one target's loop, series cache, staleness markers, report series
- ``pool`` / ``manager``: one pool per job; ``ScrapeManager`` is the entry point
"""
