"""Scores the classifier on the held-out rows and logs its accuracy as metadata."""
import json

from common import FEATURES, input_path, log_metadata, log_model_metadata, output_path, read_rows

with open(input_path("model")) as f:
    model = json.load(f)
rows = read_rows(input_path("test"))


def predict(row):
    point = [float(row[feature]) for feature in FEATURES]
    return min(
        model["centroids"],
        key=lambda label: sum((a - b) ** 2 for a, b in zip(point, model["centroids"][label])),
    )


correct = sum(predict(row) == row["species"] for row in rows)
accuracy = correct / len(rows) if rows else 0.0
with open(output_path("report"), "w") as f:
    json.dump({"accuracy": accuracy, "correct": correct, "evaluated": len(rows)}, f, indent=2)
print(f"accuracy {accuracy:.3f} ({correct} of {len(rows)} held-out flowers)")
log_metadata(accuracy=round(accuracy, 4), evaluated=len(rows))
log_model_metadata(accuracy=round(accuracy, 4))
