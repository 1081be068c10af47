"""Real-data tests: public 311 extracts kept in ../shared/data/real beside the checkout.

The folder is not part of the repository. Where it is missing the tests skip with a
reason instead of failing; CI has it.
"""

from __future__ import annotations

from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
SHARED = REPO.parent / "shared"
REAL = SHARED / "data" / "real"
CHECK_EXPORT = SHARED / "tools" / "check_export.py"


@pytest.fixture(scope="session")
def real_data() -> Path:
    """The real-data folder, or a skip saying why the tests cannot run."""
    if not REAL.is_dir():
        pytest.skip(
            f"../shared/data/real not found beside the checkout (looked for {REAL}); "
            "real-data tests need it (CI has it)"
        )
    return REAL


@pytest.fixture(scope="session")
def check_export_tool(real_data: Path) -> Path:
    if not CHECK_EXPORT.is_file():
        pytest.skip(f"{CHECK_EXPORT} not found beside the checkout; the export check needs it")
    return CHECK_EXPORT


def load_template(name: str, real: Path, folder: Path) -> tuple[Path, str]:
    """Fill in `tests/realdata/<name>.yaml` (its ${store_url}: a SQLite file in `folder`;
    its ${data_dir}: the real-data folder), then init, load and refresh through the CLI.
    Returns the config's path and what `etl run` printed."""
    from string import Template

    from tests.support import run

    text = Template((HERE / f"{name}.yaml").read_text(encoding="utf-8")).substitute(
        store_url=f"sqlite:///{(folder / 'store.db').as_posix()}", data_dir=real.as_posix()
    )
    config = folder / f"{name}.yaml"
    config.write_text(text, encoding="utf-8")
    run(config, "init")
    etl_output = run(config, "etl", "run").output
    run(config, "metrics", "refresh")
    return config, etl_output
