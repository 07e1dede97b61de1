"""The pipeline modules expose the interface service/cli.py dispatches to."""

from __future__ import annotations

import argparse
import importlib

import pytest


@pytest.mark.parametrize(
    "module", ["model.data.build", "model.train", "model.evaluate", "model.baselines", "model.calibrate"]
)
def test_module_interface(module: str) -> None:
    mod = importlib.import_module(module)
    parser = argparse.ArgumentParser()
    mod.add_arguments(parser)
    assert callable(mod.run)
    parser.parse_args([])  # every option has a default


def test_train_defaults_fit_the_budget() -> None:
    from model.train import add_arguments

    parser = argparse.ArgumentParser()
    add_arguments(parser)
    args = parser.parse_args([])
    assert args.max_minutes <= 45 and 64 <= args.max_length <= 128
