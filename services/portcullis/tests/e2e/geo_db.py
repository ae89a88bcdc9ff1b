"""Writes a tiny city-level IP geolocation database in the MaxMind DB format (with
MaxMind's own writer), for threat protection's tests: 198.51.100.0/24 is Paris and
100.64.0.0/24 Sydney.

Usage: geo_db.py PATH"""

import sys

from mmdb_writer import MMDBWriter
from netaddr import IPSet


def city(name, country, code, latitude, longitude):
    return {"city": {"names": {"en": name}},
            "country": {"iso_code": code, "names": {"en": country}},
            "location": {"latitude": latitude, "longitude": longitude}}


writer = MMDBWriter(ip_version=6, database_type="GeoLite2-City", ipv4_compatible=True)
writer.insert_network(IPSet(["198.51.100.0/24"]), city("Paris", "France", "FR", 48.8566, 2.3522))
writer.insert_network(IPSet(["100.64.0.0/24"]), city("Sydney", "Australia", "AU", -33.8688, 151.2093))
writer.to_db_file(sys.argv[1])
