"""Configuration: one typed object from DIALOGIC_* variables, documented by a table that cannot go stale."""

from pathlib import Path

import pytest

from service.settings import Settings, env_vars, render_readme

README = Path(__file__).resolve().parents[1] / "README.md"


def test_readme_configuration_table_is_current() -> None:
    text = README.read_text()
    assert render_readme(text) == text, "run `python -m service.settings` to refresh the README table"
    for var in env_vars():
        assert f"`{var}`" in text


def test_from_env_converts_types() -> None:
    s = Settings.from_env(
        {
            "DIALOGIC_PORT": "9001",
            "DIALOGIC_BATCH_MAX_WAIT_MS": "2.5",
            "DIALOGIC_MODEL_DIR": "/tmp/m",
            "DIALOGIC_REDIS_URL": "redis://h:1/0",
        }
    )
    assert (s.port, s.batch_max_wait_ms, s.model_dir, s.redis_url) == (
        9001,
        2.5,
        Path("/tmp/m"),
        "redis://h:1/0",
    )


def test_from_env_ignores_empty_and_keeps_defaults() -> None:
    assert Settings.from_env({"DIALOGIC_PORT": ""}).port == Settings().port


def test_from_env_rejects_bad_numbers_with_the_variable_name() -> None:
    with pytest.raises(ValueError, match="DIALOGIC_MAX_BATCH"):
        Settings.from_env({"DIALOGIC_MAX_BATCH": "lots"})
