"""A serving process loads the clients of optional services only when it is configured to use them:
aiobotocore (S3 media), coredis (Redis rate limits) and Alembic (migrations) take ~80 MiB of memory
between them, in every API process. Twilio's REST client (~10 MiB with what it loads) waits for the
first send through Twilio, which an API process answering respond-async never makes."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

OPTIONAL = ("aiobotocore", "botocore", "coredis", "alembic", "twilio.rest")

LOADED_BY_THE_APP = """
import sys
from pathlib import Path
from entrypoints.http.asgi import create_app_from_environment
create_app_from_environment()
print(",".join(sorted(name for name in sys.argv[1].split(",") if name in sys.modules)))
"""


def test_an_api_process_without_s3_or_redis_loads_neither_client_nor_alembic_nor_twilios_rest_client(
    tmp_path: Path,
) -> None:
    loaded = subprocess.run(
        [sys.executable, "-c", LOADED_BY_THE_APP, ",".join(OPTIONAL)],
        env={
            "PATH": "/usr/bin:/bin",
            "DATABASE_URL": f"sqlite:///{tmp_path}/gateway.db",
            "JWT_SECRET": "x" * 48,
        },
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    assert loaded.stdout.strip() == ""
