"""Fault drills for issue 12 items 3, 5, 6 and 9, on real processes under mixed load (speak, NDJSON stream, the
ElevenLabs-protocol WebSocket):

* **storage** (3): a gateway's media directory fills up (a small tmpfs, when this machine lets the test mount one;
  else made read-only), then its line cache turns unwritable: lines keep being answered (audio inline,
  ``media_unwritable``; cache bypassed), ``/api/health`` shows it and readiness fails within 2 s, and both are back
  within 2 s of the fault ending;
* **slow delivery** (5): the ElevenLabs stand-in's WebSocket delivers about 2 s of audio in about 5 s, inside every
  deadline: health warns and the level moves (next provider first) within 2 s, and both are back within 2 s of the
  fault ending (background trials prove the provider fast again; no client line is sent to test it);
* **vendor rejects** (6): the stand-in answers 422 to every synthesis: lines fail over to the next vendor (counted
  as ``upstream_rejected``) instead of a 400 to the client, and the level is back within 2 s of the fault ending
  (trials); a "too long" 400 is still a clear 4xx;
* **breaker hold** (9): an operator holds a breaker open on one replica: both replicas keep it open past its reset
  time until it is lifted on the other; a hold with ``ttl_s`` ends by itself.

Throughout: every request answered (no 5xx, no stream without ``final``/``error``, no WebSocket without
``isFinal``, none hung) and ``/api/health/live`` within 200 ms. Run: ``pytest tests/chaos/test_faults.py -q -s``
(under ``flock /tmp/heavy.lock`` on a shared machine); the table goes to ``tests/chaos/last_faults_report.md``.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import httpx
import pytest

import yaml

from tests.chaos.faults_load import CHARACTERS, LINES, MixedLoad, Probes, Req
from tests.chaos.harness import API_KEY, ROOT, ChaosSettings, RedisServer, Replica, Standin, free_port

pytestmark = pytest.mark.chaos
CHAIN = ["elevenlabs_ws", "elevenlabs_rest", "fish_audio", "canned"]
S = ChaosSettings()
DETECT_S = RECOVER_S = 2.0  #: the issue's bounds for a fault that health can see directly
LIVE_MS = 200.0
REPORT = Path(__file__).with_name("last_faults_report.md")
ROWS: list[dict] = []


def _env(**extra: str) -> dict[str, str]:
    return {**S.gateway_env(), "GATEWAY_CHAIN": json.dumps(CHAIN), "GATEWAY_STORAGE_PROBE_INTERVAL_S": "0.25",
            "ELEVENLABS_API_KEY": API_KEY, "FISH_API_KEY": API_KEY, **extra}


class FaultCluster:
    """Redis, the two stand-ins, two replicas sharing Redis, and one gateway on its own disk (media + cache)."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.redis = RedisServer(free_port(), workdir / "redis.log")
        self.elevenlabs = Standin("ops.standins.elevenlabs", ["--api-key", API_KEY, "--concurrency", "64",
                                                              "--character-limit", "100000000"],
                                  free_port(), workdir / "elevenlabs.log")
        self.fish = Standin("ops.standins.fish", ["--api-key", API_KEY, "--concurrency", "64", "--credit", "100000"],
                            free_port(), workdir / "fish.log")
        vendors = {"GATEWAY_ELEVENLABS_BASE_URL": self.elevenlabs.url,
                   "GATEWAY_ELEVENLABS_WS_URL": self.elevenlabs.ws_url, "GATEWAY_FISH_BASE_URL": self.fish.url}
        self.pair = [Replica(i, free_port(), _env(**vendors, GATEWAY_REDIS_URL=self.redis.url,
                                                  GATEWAY_DATA_DIR=str(workdir / f"replica-{i}")),
                             workdir / f"replica-{i}.log") for i in range(2)]
        self.disk_dir = workdir / "solo"
        self.media_dir = self.disk_dir / "audio"
        self.media_dir.mkdir(parents=True)
        # The drill's own load writes ~5 MB/s of audio: 256 MB is room for the whole drill (64 MB filled up ~12 s in).
        self.mounted = _mount_tmpfs(self.media_dir, "256m")
        self.solo = Replica(2, free_port(), _env(**vendors, GATEWAY_DATA_DIR=str(self.disk_dir),
                                                 GATEWAY_CACHE_ENABLED="true", GATEWAY_MEDIA_BACKEND="disk",
                                                 GATEWAY_CHAIN=json.dumps(CHAIN[:3] + ["cache", "canned"])),
                            workdir / "solo.log")

    def start(self) -> "FaultCluster":
        for p in (self.redis, self.elevenlabs, self.fish):
            p.start()
        for p in (self.redis, self.elevenlabs, self.fish):
            p.wait_ready()
        for r in (*self.pair, self.solo):
            r.start()
        for r in (*self.pair, self.solo):
            r.wait_ready()
        return self

    def stop(self) -> None:
        for p in (self.solo, *self.pair, self.fish, self.elevenlabs, self.redis):
            p.stop()
        if self.mounted:
            subprocess.run(["umount", str(self.media_dir)], check=False)

    def warm_up(self) -> None:
        """Every line of the load once per character and vendor, so the stand-ins replay them from then on (a line
        a stand-in has not heard is synthesized by Piper first: seconds on a busy machine)."""
        cast = yaml.safe_load((ROOT / "config" / "characters.yaml").read_text())["characters"]
        jobs = [{"text": line, "character": c, **({"voice_id": f"fish_audio:{cast[c]['voices']['fish_audio']}"}
                                                  if fish else {})}
                for line in LINES for c in CHARACTERS for fish in (False, True)]
        with httpx.Client(timeout=60) as client:
            for body in jobs:
                client.post(self.pair[0].url + "/api/avatar/speak", json={**body, "visemes": False}).raise_for_status()

    def reset(self) -> None:
        for s in (self.elevenlabs, self.fish):
            s.clear_faults()
        for r in self.pair:
            for name, b in r.admin("GET", "breakers").items():
                if b["state"] != "closed":
                    r.admin("POST", f"breakers/{name}", {"state": "closed"})
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            if all(r.health()["degradation_level"] == "normal" for r in (*self.pair, self.solo)):
                return
            time.sleep(0.25)
        raise RuntimeError("gateways not normal before the drill")


def _mount_tmpfs(path: Path, size: str) -> bool:
    if os.geteuid() != 0 or shutil.which("mount") is None:
        return False
    return subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(path)],
                          capture_output=True).returncode == 0


@pytest.fixture(scope="module")
def fc():
    if shutil.which("redis-server") is None:
        pytest.skip("redis-server is not installed")
    workdir = Path(tempfile.mkdtemp(prefix="mouthpiece-faults-"))  # kept: the process logs are there
    print(f"\nfault drills: process logs in {workdir}")
    cluster = FaultCluster(workdir)
    try:
        cluster.start().warm_up()
        yield cluster
    finally:
        cluster.stop()
        if ROWS:
            REPORT.write_text(table(ROWS) + "\n")
            print("\n" + table(ROWS))


# -- the checks every drill shares ----------------------------------------------------------------------------------

def check_load(records: list[Req], probes: Probes, allow_rejected: bool = False) -> dict:
    failed = [r for r in records if r.outcome == "failed" or (r.outcome == "rejected" and not allow_rejected)]
    p99, worst = probes.live_p_max()
    assert records, "no load ran"
    assert not failed, f"{len(failed)} of {len(records)} requests lost: {[(r.kind, r.error) for r in failed[:5]]}"
    assert probes.live_failures == 0 and worst <= LIVE_MS, f"/api/health/live: max {worst:.0f} ms"
    by_kind = {k: sum(r.kind == k for r in records) for k in ("speak", "stream", "ws")}
    assert all(by_kind.values()), f"every kind of client ran: {by_kind}"
    return {"requests": len(records), "by_kind": by_kind, "live_p99_ms": round(p99), "live_max_ms": round(worst)}


def row(name: str, mode: str, load: dict, detect: float | None, recover: float | None, wall: float, **extra) -> None:
    ROWS.append({"drill": name, "fault": mode, **load, "detect_s": detect, "recover_s": recover,
                 "wall_s": round(wall, 1), **extra})


def table(rows: list[dict]) -> str:
    head = "| drill | fault | requests (speak/stream/ws) | lost | live p99 / max | detect | recover | notes | wall |"
    out = [head, "|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        k = r["by_kind"]
        fmt = (lambda v: "—" if v is None else f"{v:.2f} s")
        out.append(f"| {r['drill']} | {r['fault']} | {r['requests']} ({k['speak']}/{k['stream']}/{k['ws']}) | 0 "
                   f"| {r['live_p99_ms']} / {r['live_max_ms']} ms | {fmt(r['detect_s'])} | {fmt(r['recover_s'])} "
                   f"| {r.get('notes', '')} | {r['wall_s']} s |")
    return "\n".join(out)


def _provider(s, name: str) -> dict:  # noqa: ANN001
    return s.health["providers"][name]


def _trials(fc: FaultCluster, provider: str) -> dict[str, int]:
    """Background trials of ``provider`` so far, by verdict, summed over both replicas (from /metrics)."""
    out: dict[str, int] = {}
    for r in fc.pair:
        for line in httpx.get(r.url + "/metrics").text.splitlines():
            if line.startswith("mouthpiece_provider_trials_total{") and f'provider="{provider}"' in line:
                outcome = line.split('outcome="')[1].split('"')[0]
                out[outcome] = out.get(outcome, 0) + int(float(line.rsplit(" ", 1)[1]))
    return out


def _fmt(counts: dict[str, int]) -> str:
    return ", ".join(f"{n} {k}" for k, n in sorted(counts.items()))


# -- 3: media store and line cache ------------------------------------------------------------------------------------

class MediaFault:
    """Fill the media tmpfs (disk full), or make the directory read-only where no tmpfs could be mounted."""

    def __init__(self, fc: FaultCluster) -> None:
        self.fc, self.filler = fc, fc.media_dir / "filler.bin"
        self.mode = "disk full (tmpfs)" if fc.mounted else "read-only directory"

    def inject(self) -> None:
        if self.fc.mounted:
            try:
                with open(self.filler, "wb") as fh:
                    while True:
                        fh.write(b"\0" * 65536)
                        fh.flush()
            except OSError:  # full: that is the fault
                pass
        else:
            _immutable(self.fc.media_dir, True)

    def clear(self) -> None:
        if self.fc.mounted:
            self.filler.unlink(missing_ok=True)
        else:
            _immutable(self.fc.media_dir, False)


def _immutable(path: Path, on: bool, *files: Path) -> None:
    if os.geteuid() == 0:  # root ignores permissions: the immutable attribute binds it too
        subprocess.run(["chattr", "+i" if on else "-i", str(path), *map(str, files)], check=True)
    else:
        path.chmod(0o555 if on else 0o755)


def test_storage_faults_keep_lines_answered_and_show_in_health(fc):
    fc.reset()
    t0 = time.monotonic()
    url = fc.solo.url
    probes = Probes([url], t0).start()
    load = MixedLoad([url], t0).start()
    fault = MediaFault(fc)
    try:
        time.sleep(1.5)
        inject = time.monotonic() - t0
        fault.inject()
        time.sleep(3.0)
        clear = time.monotonic() - t0
        fault.clear()
        time.sleep(2.5)
        cache_files = [p for p in (fc.disk_dir / "cache").glob("lines.sqlite3*") if not p.name.endswith("-shm")]
        cache_fault = os.geteuid() == 0 and shutil.which("chattr") is not None  # (SQLite's -shm is mapped: left)
        if cache_fault:
            cache_inject = time.monotonic() - t0
            _immutable(fc.disk_dir / "cache", True, *cache_files)
            time.sleep(2.5)
            cache_clear = time.monotonic() - t0
            _immutable(fc.disk_dir / "cache", False, *cache_files)
            time.sleep(2.5)
    finally:
        records = load.stop()
        probes.stop()
    wall = time.monotonic() - t0
    stats = check_load(records, probes)
    down = probes.first(lambda s: s.health["media"]["status"] == "down" and s.ready == 503, inject)
    up = probes.first(lambda s: s.health["media"]["status"] == "up" and s.ready == 200, clear)
    assert down is not None and down <= DETECT_S, f"media fault not in health/readiness within 2 s: {down}"
    assert up is not None and up <= RECOVER_S, f"media recovery not in health within 2 s: {up}"
    during = [r for r in records if inject + 0.5 < r.start and r.end < clear]
    inline = [r for r in during if r.kind == "speak" and r.inline]
    assert inline and all("media_unwritable" in " ".join(r.reasons) for r in inline), "speak answered inline"
    late_inline = [(round(r.start, 2), r.reasons) for r in records if r.inline and r.start > clear + up + 0.5]
    assert not late_inline, f"inline only while the store is down: clear {clear:.2f} up {up:.2f}: {late_inline[:5]}" + (
        f" cache fault {cache_inject:.2f}..{cache_clear:.2f}" if cache_fault else "")
    row("3 media store", fault.mode, stats, down, up, wall, notes=f"{len(inline)} speak answers inline")
    if cache_fault:
        cdown = probes.first(lambda s: (s.health.get("cache") or {}).get("status") == "down", cache_inject)
        cup = probes.first(lambda s: (s.health.get("cache") or {}).get("status") == "up", cache_clear)
        assert cdown is not None and cdown <= DETECT_S, f"cache fault not in health within 2 s: {cdown}"
        assert cup is not None and cup <= RECOVER_S, f"cache recovery not in health within 2 s: {cup}"
        ROWS[-1]["notes"] += f"; line cache unwritable: detect {cdown:.2f} s, recover {cup:.2f} s, cache bypassed"


# -- 5: slow but inside every deadline -------------------------------------------------------------------------------

def test_slow_delivery_inside_deadlines_moves_the_level(fc):
    fc.reset()
    t0 = time.monotonic()
    urls = [r.url for r in fc.pair]
    probes = Probes(urls, t0).start()
    load = MixedLoad(urls, t0).start()
    try:
        time.sleep(1.5)
        inject = time.monotonic() - t0
        fc.elevenlabs.set_faults(stall_ms=1100, targets=["ws"])  # ~2 s of audio in ~5 s; gaps < the 1.5 s deadline
        # Long enough that the HTTP clients start lines after the level moved (detection within 2 s, +0.5 s) even
        # when their lines before that were caught by the stall (5.5-7.8 s measured): with 6 s, a CI run saw all four
        # clients still in such lines at the clear, and nothing to judge.
        time.sleep(10.0)
        clear = time.monotonic() - t0
        fc.elevenlabs.clear_faults()
        time.sleep(RECOVER_S + 1.5)
    finally:
        records = load.stop()
        probes.stop()
    wall = time.monotonic() - t0
    stats = check_load(records, probes)
    slow = probes.first(lambda s: _provider(s, "elevenlabs_ws")["signals"].get("slow_delivery")
                        and s.health["degradation_level"] == "degraded-2"
                        and any("delivery" in r for r in s.health["reasons"]), inject)
    assert slow is not None and slow <= DETECT_S, f"slow delivery not in health within 2 s: {slow}: " + str(
        [(round(x.t, 2), x.gateway, x.health["degradation_level"], x.health["reasons"],
          _provider(x, "elevenlabs_ws")["signals"]) for x in probes.samples if inject < x.t < clear][::4])
    moved = [r for r in records if inject + slow + 0.5 < r.start < clear and r.kind != "ws"]
    # (a line that elevenlabs_rest failed, on a busy machine, falls over to elevenlabs_ws: it was still tried second)
    assert moved and all(r.provider == "elevenlabs_rest" or r.fallbacks >= 1 for r in moved), \
        f"the next provider goes first: {[(round(r.start, 2), r.gateway, r.provider) for r in moved]}, slow {slow}; " \
        f"HTTP lines (start, end, provider): " + str([(round(r.start, 2), round(r.end, 2), r.provider) for r in records
                                                      if r.kind != "ws" and r.end > inject and r.start < clear])
    # No client line goes to the demoted provider: background trials prove it fast again, which clears its signal,
    # and the level recovers on that proof without waiting for its hysteresis.
    normal = probes.first(lambda s: s.health["degradation_level"] == "normal"
                          and not _provider(s, "elevenlabs_ws")["signals"].get("slow_delivery"), clear)
    assert normal is not None and normal <= RECOVER_S, f"not normal within 2 s of the fault ending: {normal}: " + str(
        [(round(x.t, 2), x.gateway, x.health["degradation_level"], _provider(x, "elevenlabs_ws").get("trial"))
         for x in probes.samples if clear - 0.5 < x.t < clear + 3.0][::3])
    trials = _trials(fc, "elevenlabs_ws")
    assert trials.get("passed", 0) >= 1 and trials.get("slow", 0) >= 1, f"trials counted: {trials}"
    row("5 slow delivery", "ElevenLabs WS: 2 s of audio in ~5 s (1.1 s between chunks)", stats, slow, normal, wall,
        notes=f"{len(moved)} lines on elevenlabs_rest meanwhile; trials on both replicas: {_fmt(trials)}")


# -- 6: a vendor's 400/422 after the gateway's validation -------------------------------------------------------------

def test_vendor_rejects_fail_over_unless_the_line_is_too_long(fc):
    fc.reset()
    t0 = time.monotonic()
    urls = [r.url for r in fc.pair]
    probes = Probes(urls, t0).start()
    load = MixedLoad(urls, t0).start()
    try:
        time.sleep(1.0)
        inject = time.monotonic() - t0
        fc.elevenlabs.set_faults(error="validation_error", targets=["rest", "ws"])  # 422 to every synthesis
        time.sleep(3.0)
        clear = time.monotonic() - t0
        fc.elevenlabs.clear_faults()
        time.sleep(RECOVER_S + 1.5)
    finally:
        records = load.stop()
        probes.stop()
    wall = time.monotonic() - t0
    stats = check_load(records, probes)
    during = [r for r in records if inject + 0.3 < r.start and r.end < clear and r.kind != "ws"]
    assert during and all(r.provider == "fish_audio" and r.fallbacks >= 1 for r in during), \
        [(r.provider, r.fallbacks, r.error) for r in during[:3]]
    assert all(any("upstream_rejected" in x for x in r.reasons) for r in during)
    seen = probes.first(lambda s: s.health["degradation_level"] == "degraded-2"
                        and any("elevenlabs" in r and "errors" in r for r in s.health["reasons"]), inject)
    assert seen is not None and seen <= DETECT_S, f"the rejections not in health within 2 s: {seen}: " + str(
        [(round(x.t, 2), x.gateway, x.health["degradation_level"], x.health["reasons"],
          _provider(x, "elevenlabs_ws")["signals"]) for x in probes.samples if inject < x.t < clear][::5])
    # Background trials prove the vendor clean again: its error ratio is cleared (a rejection in flight at the end
    # no longer counts) and the level recovers on that proof, without waiting for its hysteresis.
    normal = probes.first(lambda s: s.health["degradation_level"] == "normal", clear)
    assert normal is not None and normal <= RECOVER_S, f"not normal within 2 s of the fault ending: {normal}: " + str(
        [(round(x.t, 2), x.gateway, x.health["degradation_level"], x.health["reasons"],
          _provider(x, "elevenlabs_ws").get("trial")) for x in probes.samples if clear - 0.5 < x.t < clear + 3.0][::3])
    trials = _trials(fc, "elevenlabs_ws")
    assert trials.get("passed", 0) >= 1 and trials.get("upstream_rejected", 0) >= 1, f"trials counted: {trials}"
    counted = httpx.get(fc.pair[0].url + "/metrics").text
    assert 'reason="upstream_rejected"' in counted, "fail-overs counted with their reason"
    # The line's own cause (too long for the vendor) is the client's: a clear 4xx, no fail-over.
    fc.elevenlabs.set_faults(error="max_character_limit_exceeded", error_count=1, targets=["ws"])
    resp = httpx.post(fc.pair[0].url + "/api/avatar/speak", json={"text": "Halt! Who goes there?"}, timeout=15)
    fc.elevenlabs.clear_faults()
    assert resp.status_code == 400 and "max_character" in resp.text, resp.text
    row("6 vendor rejects", "ElevenLabs 422 to every synthesis; then one 400 max_character_limit_exceeded", stats,
        seen, normal, wall, notes=f"{len(during)} lines failed over to fish_audio (upstream_rejected); too long: "
                                  f"400 to the client; trials on both replicas: {_fmt(trials)}")


# -- 9: an operator's hold on a breaker -------------------------------------------------------------------------------

def test_breaker_hold_lasts_until_lifted_on_every_replica(fc):
    fc.reset()
    t0 = time.monotonic()
    urls = [r.url for r in fc.pair]
    probes = Probes(urls, t0).start()
    load = MixedLoad(urls, t0).start()
    a, b = fc.pair
    try:
        time.sleep(1.0)
        hold = time.monotonic() - t0
        a.admin("POST", "breakers/elevenlabs_ws", {"state": "open"})
        time.sleep(S.breaker_reset_s + 1.5)  # past the reset time: a plain trip would half-open and close
        lift = time.monotonic() - t0
        b.admin("POST", "breakers/elevenlabs_ws", {"state": "closed"})  # lifted on the other replica
        # (the level may take level_recovery_s + 1 s to be normal; a second more leaves lines to judge after it)
        time.sleep(S.level_recovery_s + 2.0)
        ttl = time.monotonic() - t0
        b.admin("POST", "breakers/elevenlabs_ws", {"state": "open", "ttl_s": 1.5})
        time.sleep(3.5)
    finally:
        records = load.stop()
        probes.stop()
    wall = time.monotonic() - t0
    stats = check_load(records, probes)
    held = (lambda s: _provider(s, "elevenlabs_ws")["breaker"]["state"] == "open"
            and _provider(s, "elevenlabs_ws")["breaker"].get("held", True))  # (the field is new: judged on state)
    seen = probes.first(held, hold)
    assert seen is not None and seen <= DETECT_S, f"hold not on both replicas within 2 s: {seen}"
    window = [s for s in probes.samples if hold + seen <= s.t < lift and s.health is not None]
    assert window and all(held(s) for s in window), "the hold lasted until lifted, on both replicas"
    served = [r for r in records if hold + 0.5 < r.start and r.end < lift and r.provider == "elevenlabs_ws"]
    assert not served, f"{len(served)} lines reached the held provider"
    gone = probes.first(lambda s: _provider(s, "elevenlabs_ws")["breaker"]["state"] == "closed"
                        and not _provider(s, "elevenlabs_ws")["breaker"].get("held"), lift)
    assert gone is not None and gone <= RECOVER_S, f"lift not on both replicas within 2 s: {gone}"
    normal = probes.first(lambda s: s.health["degradation_level"] == "normal", lift)
    assert normal is not None and normal <= S.level_recovery_s + 1.0
    back = [r for r in records if lift + normal + 0.3 < r.start and r.end < ttl and r.kind != "ws"]
    assert back and all(r.provider == "elevenlabs_ws" for r in back), "normal service after the lift"
    expired = probes.first(lambda s: not _provider(s, "elevenlabs_ws")["breaker"].get("held"), ttl + 1.5)
    assert expired is not None and expired <= RECOVER_S, f"a hold with ttl_s ended by itself: {expired}"
    row("9 breaker hold", f"admin hold on replica 0, {S.breaker_reset_s + 1.5:.1f} s (> reset "
        f"{S.breaker_reset_s:.0f} s), lifted on replica 1; then ttl_s 1.5", stats, seen, gone, wall,
        notes=f"0 lines to the held provider; level normal {normal:.2f} s after the lift (hysteresis); "
              f"ttl hold ended {expired:.2f} s after its expiry")
