"""Prometheus metrics of the avatar video pool (on the gateway's registry; no user text in labels)."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

from gateway.observability.metrics import REGISTRY

VIDEO_RENDERS = Counter("mouthpiece_video_renders_total", "Avatar video renders by outcome",
                        ["outcome"], registry=REGISTRY)
VIDEO_RENDER_SECONDS = Histogram(
    "mouthpiece_video_render_seconds", "From render() to the MP4 on disk (successful renders)",
    buckets=(0.1, 0.25, 0.5, 1, 1.5, 2, 3, 5, 8, 12, 20, 30), registry=REGISTRY)
VIDEO_QUEUE_WAIT = Histogram("mouthpiece_video_queue_wait_seconds", "Time a video job waited for a worker",
                             buckets=(0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2, 4, 8), registry=REGISTRY)
VIDEO_REDELIVERIES = Counter("mouthpiece_video_redeliveries_total",
                             "Video jobs handed to another worker (requeued after a failure, or claimed when idle)",
                             ["reason"], registry=REGISTRY)
VIDEO_WORKERS = Gauge("mouthpiece_video_workers", "Video workers known to the pool, by health",
                      ["state"], registry=REGISTRY)
VIDEO_POOL_HEALTHY = Gauge("mouthpiece_video_pool_healthy", "1 when the video pool can take renders",
                           registry=REGISTRY)
VIDEO_MEDIA_BYTES = Gauge("mouthpiece_video_media_bytes", "Bytes of video files kept on disk", registry=REGISTRY)
