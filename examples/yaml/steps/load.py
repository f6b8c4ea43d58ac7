"""Reads the iris flowers shipped with the example and checks them."""
import os

from common import FEATURES, log_metadata, output_path, read_rows, write_rows

here = os.path.dirname(os.path.abspath(__file__))
rows = read_rows(os.path.join(here, "..", "iris.csv"))
for row in rows:
    for feature in FEATURES:
        float(row[feature])
species = sorted({row["species"] for row in rows})
write_rows(output_path("dataset"), rows)
print(f"loaded {len(rows)} flowers of {len(species)} species: {', '.join(species)}")
log_metadata(rows=len(rows), species=len(species))
