"""The CPU render worker: a separate process serving the worker HTTP contract (docs/workers.md).

``python -m render_worker --port 8790``. Modules, one concern each: ``config``
(settings), ``avatars`` (the vector characters), ``face`` (visemes and emotions as face
parameters), ``motion`` (blinks, gaze, head motion), ``drawing`` (eyes, brows, mouth),
``renderer`` (frames, H.264/AAC MP4), ``store`` (avatar preparation), ``server`` (HTTP),
``registry`` (Redis heartbeat). Importing this package loads none of them.
"""
