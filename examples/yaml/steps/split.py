"""Shuffles the rows with a seed and holds out a share of them for evaluation."""
import random

from common import input_path, output_path, param, read_rows, write_rows

rows = read_rows(input_path("dataset"))
fraction = param("test_fraction", float)
random.Random(param("seed", int)).shuffle(rows)
cut = int(round(len(rows) * fraction))
test, train = rows[:cut], rows[cut:]
write_rows(output_path("train"), train)
write_rows(output_path("test"), test)
print(f"{len(train)} rows to train on, {len(test)} held out")
