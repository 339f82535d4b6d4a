"""Where the Meta provider sends (META_GRAPH_API_BASE_URL), and how long a send without an answer waits
for its status report, checked at start-up."""

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


@pytest.mark.parametrize(
    ("reconcile_after", "unconfirmed_after"), [("30", "0"), ("30", "-1"), ("30", "10"), ("0", "3600")]
)
def test_a_wait_for_a_status_report_that_cannot_work_stops_the_start(
    tmp_path: Path, reconcile_after: str, unconfirmed_after: str
) -> None:
    environ = {
        "DATA_DIR": str(tmp_path),
        "DISPATCH_RECONCILE_AFTER_SECONDS": reconcile_after,
        "DISPATCH_UNCONFIRMED_AFTER_SECONDS": unconfirmed_after,
    }

    with pytest.raises(ConfigurationError, match="DISPATCH_UNCONFIRMED_AFTER_SECONDS"):
        load_settings(environ=environ, env_file=None)
