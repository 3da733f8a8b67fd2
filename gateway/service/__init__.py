"""The gateway service (:class:`Mouthpiece`) and its health report."""

from gateway.service.health import HealthReport
from gateway.service.mouthpiece import Mouthpiece

__all__ = ["HealthReport", "Mouthpiece"]
