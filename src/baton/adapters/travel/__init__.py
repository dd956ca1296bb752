"""Travel-time providers: distance (m) and duration (s) matrices between WGS84 points."""

from baton.adapters.travel.base import TravelMatrices, TravelTimeError, TravelTimeProvider
from baton.adapters.travel.greatcircle import GreatCircleProvider, SpeedProfile
from baton.adapters.travel.osrm import OsrmProvider

DEFAULT_PROVIDER = "great-circle"


def make_provider(spec: str = DEFAULT_PROVIDER) -> TravelTimeProvider:
    """Build a provider from a short spec (as given on the command line or in settings).

    * ``"great-circle"`` (the default; ``""`` too): :class:`GreatCircleProvider` with its defaults;
    * ``"http://host:port"`` or ``"https://..."``: :class:`OsrmProvider` on that server, profile
      ``driving``.

    Raises:
        ValueError: for any other spec (the message lists the accepted ones).
    """
    text = spec.strip()
    if text in ("", DEFAULT_PROVIDER):
        return GreatCircleProvider()
    if text.startswith(("http://", "https://")):
        return OsrmProvider(text)
    raise ValueError(f"unknown travel-time provider {spec!r}: use 'great-circle' or an OSRM http(s):// URL")


__all__ = [
    "DEFAULT_PROVIDER",
    "GreatCircleProvider",
    "OsrmProvider",
    "SpeedProfile",
    "TravelMatrices",
    "TravelTimeError",
    "TravelTimeProvider",
    "make_provider",
]
