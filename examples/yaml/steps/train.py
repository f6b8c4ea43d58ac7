"""Fits a nearest-centroid classifier: the mean of every feature per species."""
import json

from common import FEATURES, input_path, output_path, read_rows

rows = read_rows(input_path("train"))
sums, counts = {}, {}
for row in rows:
    label = row["species"]
    acc = sums.setdefault(label, [0.0] * len(FEATURES))
    for i, feature in enumerate(FEATURES):
        acc[i] += float(row[feature])
    counts[label] = counts.get(label, 0) + 1
centroids = {label: [v / counts[label] for v in acc] for label, acc in sums.items()}
with open(output_path("model"), "w") as f:
    json.dump({"kind": "nearest-centroid", "features": FEATURES, "centroids": centroids}, f, indent=2)
print(f"fitted {len(centroids)} centroids on {len(rows)} rows")
