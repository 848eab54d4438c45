"""Pushing to a Loki-compatible URL over real HTTP on loopback, and the in-process sink."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiohttp import web

from tests.logs.agent.helpers import promtail_config, wait_for
from tidewatch.logs.agent.config import ClientConfig
from tidewatch.logs.agent.runner import LogAgent
from tidewatch.logs.agent.sink import HTTPSink, InProcessSink, LogBatch, SinkError
from tidewatch.logs.push.decode import PushStream, decode_push


class FakeLoki:
    def __init__(self) -> None:
        self.streams: list[PushStream] = []
        self.headers: list[dict[str, str]] = []
        self.fail_next: list[int] = []

    async def push(self, request: web.Request) -> web.Response:
        self.headers.append(dict(request.headers))
        if self.fail_next:
            return web.Response(status=self.fail_next.pop(0), text="try later")
        body = await request.read()
        self.streams.extend(
            decode_push(body, request.content_type, request.headers.get("Content-Encoding", ""))
        )
        return web.Response(status=204)

    def lines(self) -> list[str]:
        return [ln for s in self.streams for ln in s.lines]


@pytest.fixture
async def loki() -> AsyncIterator[tuple[FakeLoki, str]]:
    fake = FakeLoki()
    app = web.Application()
    app.router.add_post("/loki/api/v1/push", fake.push)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    yield fake, f"http://127.0.0.1:{port}/loki/api/v1/push"
    await runner.cleanup()


BATCH: LogBatch = [
    ((("job", "a"),), 1_000_000_000_123, "one", ()),
    ((("job", "a"),), 1_000_000_000_124, "two", (("trace_id", "abc"),)),
    ((("job", "b"),), 1_000_000_000_125, "three", ()),
]


@pytest.mark.parametrize("fmt", ["protobuf", "json"])
async def test_http_push_formats(loki: tuple[FakeLoki, str], fmt: str) -> None:
    fake, url = loki
    sink = HTTPSink(
        ClientConfig(url=url, tenant_id="t1", format=fmt, external_labels={"host": "h", "job": "x"})
    )
    await sink.push(BATCH)
    await sink.close()
    by_labels = {s.labels_text: s for s in fake.streams}
    a = by_labels['{host="h", job="a"}']  # the stream's own job wins over the external one
    assert a.lines == ["one", "two"]
    assert a.ts.tolist() == [1_000_000_000_123, 1_000_000_000_124]
    assert a.metadata == [(), (("trace_id", "abc"),)]
    assert by_labels['{host="h", job="b"}'].lines == ["three"]
    assert fake.headers[0]["X-Scope-OrgID"] == "t1"


async def test_http_retries_then_succeeds(loki: tuple[FakeLoki, str]) -> None:
    fake, url = loki
    fake.fail_next = [503, 429]
    sink = HTTPSink(ClientConfig(url=url, min_backoff_ms=1, max_backoff_ms=5))
    await sink.push(BATCH)
    await sink.close()
    assert len(fake.headers) == 3 and fake.lines() == ["one", "two", "three"]
    assert sink.request_count == {"503": 1, "429": 1, "204": 1}


async def test_http_client_error_is_not_retried(loki: tuple[FakeLoki, str]) -> None:
    fake, url = loki
    fake.fail_next = [400]
    sink = HTTPSink(ClientConfig(url=url, min_backoff_ms=1, max_backoff_ms=5))
    with pytest.raises(SinkError, match="400"):
        await sink.push(BATCH)
    await sink.close()
    assert len(fake.headers) == 1


async def test_http_gives_up_after_max_retries() -> None:
    sink = HTTPSink(
        ClientConfig(
            url="http://127.0.0.1:9/push", min_backoff_ms=1, max_backoff_ms=2, max_retries=2
        )
    )
    with pytest.raises(SinkError, match="failed after retries"):
        await sink.push(BATCH)
    await sink.close()


async def test_http_splits_by_batch_size(loki: tuple[FakeLoki, str]) -> None:
    fake, url = loki
    sink = HTTPSink(ClientConfig(url=url, batch_size=6))
    await sink.push(BATCH)
    await sink.close()
    assert len(fake.headers) == 2 and fake.lines() == ["one", "two", "three"]


async def test_agent_to_remote_loki(tmp_path: Path, loki: tuple[FakeLoki, str]) -> None:
    fake, url = loki
    logs = tmp_path / "logs"
    logs.mkdir()
    (logs / "app.log").write_text("level=info a\nlevel=warn b\n")
    body = """    pipeline_stages:
      - logfmt: {mapping: {level: ""}}
      - labels: {level: ""}
"""
    agent = LogAgent(
        promtail_config(tmp_path, body), HTTPSink(ClientConfig(url=url)), sink_name="loki"
    )
    await agent.start()
    try:
        await wait_for(lambda: len(fake.lines()) == 2)
    finally:
        await agent.stop()
    assert sorted(s.labels_text for s in fake.streams) == [
        f'{{filename="{logs / "app.log"}", job="app", level="info"}}',
        f'{{filename="{logs / "app.log"}", job="app", level="warn"}}',
    ]
    names = {m.name: m for m in agent.self_metrics()}
    assert names["promtail_sent_entries"].samples[0].value == 2
    assert names["promtail_read_bytes"].samples[0].value == len("level=info a\nlevel=warn b\n")


class FakeResult:
    def __init__(self, status: int) -> None:
        self.status = status
        self.message = "m"


async def test_in_process_sink_retries_rate_limits() -> None:
    calls: list[list[PushStream]] = []
    answers = [FakeResult(429), FakeResult(204)]

    def store_push(streams: list[PushStream]) -> FakeResult:
        calls.append(streams)
        return answers.pop(0)

    sink = InProcessSink(store_push, min_backoff_ms=1, max_backoff_ms=2)
    await sink.push(BATCH)
    assert len(calls) == 2
    assert [s.labels_text for s in calls[1]] == ['{job="a"}', '{job="b"}']
    bad = InProcessSink(lambda streams: FakeResult(400))
    with pytest.raises(SinkError, match="400"):
        await bad.push(BATCH)


async def test_in_process_sink_into_the_log_store(tmp_path: Path) -> None:
    from tidewatch.logs.store.store import LogStore

    store = LogStore.open(tmp_path / "store")
    try:
        sink = InProcessSink(store.push)
        import time

        now = time.time_ns()
        one: LogBatch = [((("job", "a"),), now, "stored line", (("k", "v"),))]
        await sink.push(one)
        from tidewatch.matcher import Matcher, MatchType

        chunks = list(store.select([Matcher(MatchType.EQUAL, "job", "a")], now - 1, now + 1))
        assert [ln for c in chunks for ln in c.lines] == ["stored line"]
    finally:
        store.close()


@pytest.mark.parametrize("fmt", ["protobuf", "json"])
async def test_push_to_tidewatchs_own_loki_api(tmp_path: Path, fmt: str) -> None:
    """The remote end is tidewatch's /loki/api/v1/push (as `tidewatch agent` → `tidewatch up`)."""
    import time
    import types

    from tidewatch.logs.store.store import LogStore
    from tidewatch.matcher import Matcher, MatchType
    from tidewatch.web.api_loki import LokiAPI

    store = LogStore.open(tmp_path / "store")
    app = web.Application()
    app.add_routes(LokiAPI(types.SimpleNamespace(log_store=store)).routes())
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    try:
        now = time.time_ns()
        batch: LogBatch = [
            ((("job", "a"),), now, "first", ()),
            ((("job", "a"),), now + 1, "second", (("trace_id", "t1"),)),
        ]
        sink = HTTPSink(ClientConfig(url=f"http://127.0.0.1:{port}/loki/api/v1/push", format=fmt))
        await sink.push(batch)
        await sink.close()
        chunks = list(store.select([Matcher(MatchType.EQUAL, "job", "a")], now - 1, now + 2))
        assert [ln for c in chunks for ln in c.lines] == ["first", "second"]
    finally:
        await runner.cleanup()
        store.close()


async def test_tenant_stage_sets_the_org_header(tmp_path: Path, loki: tuple[FakeLoki, str]) -> None:
    fake, url = loki
    logs = tmp_path / "logs"
    logs.mkdir()
    (logs / "app.log").write_text("team=red a\nteam=blue b\nno team\n")
    body = """    pipeline_stages:
      - regex: {expression: 'team=(?P<team>\\w+)'}
      - tenant: {source: team}
"""
    agent = LogAgent(
        promtail_config(tmp_path, body), HTTPSink(ClientConfig(url=url, tenant_id="default"))
    )
    await agent.start()
    await agent.stop()
    by_tenant = sorted(
        (h.get("X-Scope-OrgID", ""), s.lines[0], s.labels_text)
        for h, s in zip(fake.headers, fake.streams, strict=True)
    )
    assert [(t, ln) for t, ln, _ in by_tenant] == [
        ("blue", "team=blue b"),
        ("default", "no team"),
        ("red", "team=red a"),
    ]
    assert all("__tenant_id__" not in lt for _, _, lt in by_tenant)
