"""Small helpers shared by the steps: where Weir put the inputs and wants the outputs."""
import csv
import os
import subprocess

FEATURES = ["sepal_length", "sepal_width", "petal_length", "petal_width"]


def input_path(name):
    return os.environ[f"WEIR_INPUT_{name.upper()}"]


def output_path(name):
    return os.environ[f"WEIR_OUTPUT_{name.upper()}"]


def param(name, cast=str):
    return cast(os.environ[f"WEIR_PARAM_{name.upper()}"])


def read_rows(path):
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def write_rows(path, rows):
    with open(path, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=FEATURES + ["species"])
        writer.writeheader()
        writer.writerows(rows)


def log_metadata(**values):
    """Records key=value metadata on this step with `weir metadata log`."""
    pairs = [f"{key}={value}" for key, value in values.items()]
    subprocess.run(["weir", "metadata", "log", *pairs], check=True)


def log_model_metadata(**values):
    """Records key=value metadata on the model version this run makes, with
    `weir model log-metadata`."""
    pairs = [f"{key}={value}" for key, value in values.items()]
    subprocess.run(["weir", "model", "log-metadata", *pairs], check=True)
