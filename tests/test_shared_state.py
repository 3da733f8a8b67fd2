"""Breaker state shared through Redis: replicas agree, and Redis going away leaves them serving."""

from __future__ import annotations

import time

import httpx
import pytest

from gateway.policy.rate_limit import RateLimiter
from gateway.policy.shared_state import RedisLink, SharedBreakerStorage
from gateway.upstream.breaker import ProviderBreaker
from tests.conftest import GatewayProcess
from tests.redis_fixture import closed_port_url

ADMIN = "admin-key-shared-0123"


def test_two_breakers_on_one_redis_agree(redis_url, redis_prefix):
    name = redis_prefix.strip(":").replace(":", "-")
    a = ProviderBreaker(name, 2, 30, SharedBreakerStorage(RedisLink(redis_url), name))
    b = ProviderBreaker(name, 2, 30, SharedBreakerStorage(RedisLink(redis_url), name))
    a.failure()
    b.failure()  # failures from two replicas add up
    assert a.state == "open" and b.state == "open"
    b.force_closed()
    assert a.state == "closed"


def test_an_operator_hold_outlasts_the_reset_time_and_is_shared(redis_url, redis_prefix):
    name = redis_prefix.strip(":").replace(":", "-") + "-hold"
    a = ProviderBreaker(name, 2, 0.2, SharedBreakerStorage(RedisLink(redis_url), name))
    b = ProviderBreaker(name, 2, 0.2, SharedBreakerStorage(RedisLink(redis_url), name))
    a.hold()
    time.sleep(0.4)  # twice the reset time: a plain trip would read half-open and let a trial call through
    assert a.state == b.state == "open" and not a.allow() and not b.allow()
    assert b.snapshot().held and b.snapshot().held_until is None  # until lifted
    b.release()
    assert a.state == "closed" and a.allow() and not a.snapshot().held


def test_a_hold_with_an_expiry_ends_by_itself(redis_url, redis_prefix):
    name = redis_prefix.strip(":").replace(":", "-") + "-ttl"
    a = ProviderBreaker(name, 2, 0.1, SharedBreakerStorage(RedisLink(redis_url), name))
    b = ProviderBreaker(name, 2, 0.1, SharedBreakerStorage(RedisLink(redis_url), name))
    a.hold(time.time() + 0.5)
    assert b.state == "open" and b.snapshot().held_until is not None and not b.allow()
    time.sleep(0.7)
    assert not b.snapshot().held and b.allow()  # past its expiry: a trial call, then closed on success
    b.success()
    assert a.state == "closed"
    local = ProviderBreaker("local-hold", 2, 0.1)
    local.hold()
    time.sleep(0.2)
    assert local.state == "open" and not local.allow()
    local.release()
    assert local.state == "closed"


def test_redis_down_keeps_local_state():
    link = RedisLink(closed_port_url(), timeout_s=0.1)
    breaker = ProviderBreaker("x", 1, 30, SharedBreakerStorage(link, "x"))
    started = time.monotonic()
    breaker.failure()
    assert breaker.state == "open" and not link.up
    assert time.monotonic() - started < 1.0, "an outage must not stall every call"
    limiter = RateLimiter(link)
    assert [limiter.check("key", "k", 2).allowed for _ in range(3)] == [True, True, False]


def test_rate_limit_window_is_shared(redis_url, redis_prefix):
    a, b = RateLimiter(RedisLink(redis_url)), RateLimiter(RedisLink(redis_url))
    ident = redis_prefix + "client"
    results = [a.check("key", ident, 3).allowed, b.check("key", ident, 3).allowed, a.check("key", ident, 3).allowed,
               b.check("key", ident, 3).allowed]
    assert results == [True, True, True, False]


@pytest.mark.slow
def test_replicas_agree_on_an_open_breaker_within_one_second(redis_url, tmp_path):
    env = {"GATEWAY_REDIS_URL": redis_url, "GATEWAY_ADMIN_KEY": ADMIN, "GATEWAY_CHAIN": '["espeak","canned"]',
           "GATEWAY_CACHE_ENABLED": "false"}
    replicas = [GatewayProcess({**env, "GATEWAY_DATA_DIR": str(tmp_path / f"r{i}")}, tmp_path / f"r{i}.log")
                for i in range(2)]
    try:
        for r in replicas:
            r.wait_ready()
        headers = {"Authorization": f"Bearer {ADMIN}"}
        httpx.post(replicas[0].url + "/admin/breakers/espeak", json={"state": "closed"}, headers=headers)
        httpx.post(replicas[0].url + "/admin/breakers/espeak", json={"state": "open"}, headers=headers)
        opened = time.monotonic()
        seen = None
        while time.monotonic() - opened < 1.0:
            state = httpx.get(replicas[1].url + "/api/health").json()["providers"]["espeak"]["breaker"]["state"]
            if state == "open":
                seen = time.monotonic() - opened
                break
            time.sleep(0.02)
        assert seen is not None, "replica 2 did not see the open breaker within 1 s"
        body = httpx.post(replicas[1].url + "/api/avatar/speak", json={"text": "Shared."}, timeout=30).json()
        assert body["provider"] == "canned"
        httpx.post(replicas[1].url + "/admin/breakers/espeak", json={"state": "closed"}, headers=headers)
        body = httpx.post(replicas[0].url + "/api/avatar/speak", json={"text": "Shared."}, timeout=30).json()
        assert body["provider"] == "espeak"
    finally:
        for r in replicas:
            r.stop()


def test_outage_stays_local_until_a_probe_succeeds(redis_url):
    link = RedisLink(redis_url, retry_s=0.0)
    storage = SharedBreakerStorage(link, "probe-test")
    link.failed(ConnectionError("simulated outage"))
    calls = []
    assert link.call(lambda c: calls.append(1), lambda: "local") == "local" and not calls
    assert storage.state in ("closed", "open", "half-open")  # served from the local mirror
    assert link.ping() is True and link.up, "the health loop's probe brings Redis back"
    assert link.call(lambda c: "redis", lambda: "local") == "redis"
