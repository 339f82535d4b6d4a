"""Where the Meta provider sends: META_GRAPH_API_BASE_URL, checked at start-up."""

from __future__ import annotations

from pathlib import Path

import pytest

from entrypoints.settings import ConfigurationError, load_settings


@pytest.mark.parametrize("url", ["graph.facebook.com", "ftp://127.0.0.1:8098", "http://", "http://h/?v=1"])
def test_a_graph_api_base_url_that_cannot_be_called_stops_the_start(tmp_path: Path, url: str) -> None:
    with pytest.raises(ConfigurationError, match="META_GRAPH_API_BASE_URL"):
        load_settings(environ={"DATA_DIR": str(tmp_path), "META_GRAPH_API_BASE_URL": url}, env_file=None)


def test_the_graph_api_is_metas_unless_told_otherwise(tmp_path: Path) -> None:
    default = load_settings(environ={"DATA_DIR": str(tmp_path)}, env_file=None)
    emulated = load_settings(
        environ={"DATA_DIR": str(tmp_path), "META_GRAPH_API_BASE_URL": "http://127.0.0.1:8098"}, env_file=None
    )

    assert default.meta_graph_api_base_url is None  # the Meta adapter's own default, Meta's Graph API
    assert emulated.meta_graph_api_base_url == "http://127.0.0.1:8098"
