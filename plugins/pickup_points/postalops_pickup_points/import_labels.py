"""The import page in the user's language: each file column's label and each row message's
msgid (area_import.py, service.py, agent_fee.py and opening_hours.py, their values as
``%(name)s``), for ``postalops.i18n.row_problems``."""

from __future__ import annotations

from postalops.i18n import N_, Messages, translations

t = translations(__name__)

COLUMNS = {
    "code": N_("Code"),
    "name": N_("Name"),
    "category": N_("Category"),
    "point_type": N_("Type"),
    "lon": N_("Longitude"),
    "lat": N_("Latitude"),
    "households": N_("Households"),
    "population": N_("Population"),
    "polygon": N_("Boundary (WKT polygon)"),
    "geometry": N_("Geometry"),
    "county": N_("County"),
    "status": N_("Status"),
    "operator": N_("Operator"),
    "capacity": N_("Capacity"),
    "opening_hours": N_("Opening hours"),
    "agent_fee": N_("Agent fee"),
    "opened_on": N_("Opened on"),
    "file": N_("File"),
    "format": N_("Format"),
}

# The columns of each kind of file, as the form lists them: (required, optional).
FILE_COLUMNS = {
    "areas": (
        ("code", "name", "category", "lon", "lat", "households", "county"),
        ("population", "polygon"),
    ),
    "points": (
        ("code", "name", "point_type", "lon", "lat", "county"),
        ("status", "operator", "capacity", "opening_hours", "agent_fee"),
    ),
}

MESSAGES = Messages(
    t,
    N_("required"),
    N_("longer than %(n)s characters"),
    N_("%(value)s is not a whole number"),
    N_("%(value)s is not a number"),
    N_("must be between %(lo)s and %(hi)s"),
    N_("%(value)s is not one of %(allowed)s"),
    N_("expected a county code segment like jinshui"),
    N_("unknown county %(county)s: neither %(unit)s nor a unit below it"),
    N_("not a valid GeoJSON geometry"),
    N_("polygon is not valid (self-intersecting?)"),
    N_("%(kind)s is not a Point or Polygon"),
    N_("not valid WKT"),
    N_("expected a valid POLYGON"),
    N_("expected a JSON object"),
    N_("expected YYYY-MM-DD"),
    N_("%(field)s must be a non-negative amount"),
    N_("expected an object of weekday spans"),
    N_("unknown key"),
    N_("expected HH:MM-HH:MM"),
    N_("closes before it opens"),
    N_("use csv, xlsx, geojson or json"),
    N_("at most %(n)s rows per import"),
)
