"""Run the gateway with the cloud stand-ins up: the full chain offline.

    ./run cloud                 # ElevenLabs stand-in :8701, Fish Audio stand-in :8702, gateway :8080

The stand-ins speak the vendors' wire protocols with local speech; the gateway's chain becomes
ElevenLabs WebSocket -> ElevenLabs REST -> Fish Audio -> Piper -> Kokoro -> espeak -> cache -> canned.
Break a provider while it runs, e.g.:

    curl -X POST localhost:8701/__control/faults -d '{"disconnect_after_sentence": true}' \
         -H 'content-type: application/json'
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
KEY = "standin-local-key"


def start(module: str, port: int) -> subprocess.Popen:
    proc = subprocess.Popen([sys.executable, "-m", module, "--port", str(port), "--api-key", KEY], cwd=ROOT)
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"{module} exited with {proc.returncode}")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/__control/health", timeout=1).status_code == 200:
                return proc
        except httpx.HTTPError:
            time.sleep(0.3)
    raise SystemExit(f"{module} did not start")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--elevenlabs-port", type=int, default=8701)
    parser.add_argument("--fish-port", type=int, default=8702)
    parser.add_argument("--port", type=int, help="the gateway's port (default: GATEWAY_PORT or 8080)")
    args = parser.parse_args()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # run the clean-up below on `kill` too
    standins = [start("ops.standins.elevenlabs", args.elevenlabs_port), start("ops.standins.fish", args.fish_port)]
    env = {**os.environ, "ELEVENLABS_API_KEY": KEY, "FISH_API_KEY": KEY,
           "GATEWAY_ELEVENLABS_BASE_URL": f"http://127.0.0.1:{args.elevenlabs_port}",
           "GATEWAY_ELEVENLABS_WS_URL": f"ws://127.0.0.1:{args.elevenlabs_port}",
           "GATEWAY_FISH_BASE_URL": f"http://127.0.0.1:{args.fish_port}"}
    print(f"stand-ins up: ElevenLabs :{args.elevenlabs_port}, Fish Audio :{args.fish_port}", file=sys.stderr)
    port = ["--port", str(args.port)] if args.port else []
    gateway = subprocess.Popen([sys.executable, "-m", "gateway.cli", "serve", *port], cwd=ROOT, env=env)
    try:
        return gateway.wait()
    except KeyboardInterrupt:
        return 130
    finally:
        for proc in [gateway, *standins]:
            proc.terminate()
            proc.wait(10)


if __name__ == "__main__":
    sys.exit(main())
