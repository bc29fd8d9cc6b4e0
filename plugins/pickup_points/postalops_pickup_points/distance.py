"""Geodesic distances on the WGS84 ellipsoid, and the degree boxes that bound them.

Every coverage decision in this plugin is taken on the ellipsoidal geodesic distance computed by
pyproj (Karney's algorithm), so the indexed and the brute-force computations agree exactly. The
spatial index only proposes candidate pairs; ``search_box`` makes sure it never misses one.
"""

from __future__ import annotations

import math

import numpy as np
from pyproj import Geod

_GEOD = Geod(ellps="WGS84")

# Shortest length of one degree of latitude on WGS84 (at the equator) and the equatorial length
# of one degree of longitude; a box built from them contains every point within the radius.
_MIN_M_PER_DEG_LAT = 110_574.0
_M_PER_DEG_LON_EQUATOR = 111_320.0
# Slack for the box: geometry near the box edge must never be lost to rounding.
_BOX_SLACK = 1.01


def geodesic_m(lon1, lat1, lon2, lat2) -> np.ndarray:
    """Geodesic distance in metres between two points (or arrays of points), WGS84."""
    arrays = np.broadcast_arrays(*(np.asarray(v, dtype=float) for v in (lon1, lat1, lon2, lat2)))
    shape = arrays[0].shape
    flat = [np.ascontiguousarray(a).ravel() for a in arrays]
    _, _, dist = _GEOD.inv(*flat)
    return np.asarray(dist, dtype=float).reshape(shape)


def haversine_m(lon1, lat1, lon2, lat2) -> np.ndarray:
    """Great-circle distance on the mean sphere, in metres: a cheap screen, never a decision."""
    la1, la2 = np.radians(lat1), np.radians(lat2)
    dlat = la2 - la1
    dlon = np.radians(np.asarray(lon2) - np.asarray(lon1))
    a = np.sin(dlat / 2) ** 2 + np.cos(la1) * np.cos(la2) * np.sin(dlon / 2) ** 2
    return 2 * 6_371_008.8 * np.arcsin(np.sqrt(np.clip(a, 0.0, 1.0)))


def search_box(lon, lat, radius_m):
    """Degree box ``(minx, miny, maxx, maxy)`` holding every point within ``radius_m`` of (lon, lat).

    Works on scalars or arrays. Valid away from the poles (|lat| < 85°), which a postal network is.
    """
    lon = np.asarray(lon, dtype=float)
    lat = np.asarray(lat, dtype=float)
    radius_m = np.asarray(radius_m, dtype=float)
    dlat = radius_m * _BOX_SLACK / _MIN_M_PER_DEG_LAT
    # Longitude degrees shrink towards the pole: use the box's poleward edge.
    edge_lat = np.minimum(np.abs(lat) + dlat, 85.0)
    dlon = radius_m * _BOX_SLACK / (_M_PER_DEG_LON_EQUATOR * np.cos(np.radians(edge_lat)))
    return lon - dlon, lat - dlat, lon + dlon, lat + dlat


def degrees_for(radius_m: float, lat: float) -> tuple[float, float]:
    """Half-widths (dlon, dlat) in degrees of the ``search_box`` at latitude ``lat``."""
    minx, miny, maxx, maxy = search_box(0.0, lat, radius_m)
    return float(maxx), float((maxy - miny) / 2)


def offset(lon: float, lat: float, azimuth_deg: float, distance_m: float) -> tuple[float, float]:
    """The point ``distance_m`` metres from (lon, lat) along ``azimuth_deg``: for building fixtures."""
    lon2, lat2, _ = _GEOD.fwd(lon, lat, azimuth_deg, distance_m)
    if not (math.isfinite(lon2) and math.isfinite(lat2)):
        raise ValueError("offset left the ellipsoid")
    return float(lon2), float(lat2)


def bearing(lon1: float, lat1: float, lon2: float, lat2: float) -> float:
    """Initial geodesic azimuth in degrees from the first point to the second."""
    azimuth, _, _ = _GEOD.inv(lon1, lat1, lon2, lat2)
    return float(azimuth)
