"""``rectify projections``: after the demo a rebuild then a check exit 0 (on SQLite
and PostgreSQL); a check names what differs and exits 1; status shows the lag."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from infrastructure.clock import ManualClock
from infrastructure.composition import build_app, read_model_store
from interfaces.cli.main import app as cli
from tests.backends import fresh_postgres_database, sqlite_url_for
from tests.core.scenario import SWEEP_STARTS, FakePasswords, Stage, Sweep

runner = CliRunner()


@pytest.fixture(
    params=[
        pytest.param("sqlite", id="sqlite"),
        pytest.param("postgres", id="postgres", marks=pytest.mark.postgres),
    ]
)
def url(request: pytest.FixtureRequest, tmp_path: Path) -> object:
    if request.param == "sqlite":
        yield sqlite_url_for(tmp_path / "rectify.sqlite3")
    else:
        with fresh_postgres_database() as postgres:
            yield postgres


def rectify(*args: str) -> object:
    return runner.invoke(cli, list(args), catch_exceptions=False)


def test_after_the_demo_a_rebuild_and_then_a_check_exit_0(url: str) -> None:
    assert rectify("demo", "--database-url", url).exit_code == 0
    rebuilt = rectify("projections", "rebuild", "--database-url", url)
    assert rebuilt.exit_code == 0, rebuilt.output
    assert "cases: " in rebuilt.output and "events/s" in rebuilt.output
    checked = rectify("projections", "check", "--database-url", url)
    assert checked.exit_code == 0, checked.output
    assert "cases: live equals rebuild at position" in checked.output
    assert "site_history: live equals rebuild at position" in checked.output


def test_a_check_prints_each_difference_and_exits_1(tmp_path: Path) -> None:
    url = sqlite_url_for(tmp_path / "rectify.sqlite3")
    app = build_app(url, clock=ManualClock(SWEEP_STARTS), passwords=FakePasswords())
    case = Sweep(app, app.clock).arrange_case(Stage.ACKNOWLEDGED)
    assert rectify("projections", "rebuild", "cases", "--database-url", url).exit_code == 0
    view = read_model_store(app).view("cases")
    with view.write_transaction() as cursor:
        cursor.execute("UPDATE rm_orders SET deadline = '2099-01-01'")

    checked = rectify("projections", "check", "cases", "--database-url", url)
    assert checked.exit_code == 1
    assert "cases: 1 rows differ from a rebuild" in checked.output
    assert (
        f"orders [order_id={case.order}]: deadline: live '2099-01-01' ≠ rebuilt '2022-04-25'"
        in checked.output
    )
    assert rectify("projections", "rebuild", "cases", "--database-url", url).exit_code == 0
    assert rectify("projections", "check", "cases", "--database-url", url).exit_code == 0
    app.close()


def test_status_shows_each_projections_position_and_lag(tmp_path: Path) -> None:
    url = sqlite_url_for(tmp_path / "rectify.sqlite3")
    app = build_app(url, clock=ManualClock(SWEEP_STARTS), passwords=FakePasswords())
    sweep = Sweep(app, app.clock)
    sweep.site()
    assert rectify("projections", "rebuild", "site_history", "--database-url", url).exit_code == 0
    sweep.site("康顺盲人按摩店")
    status = rectify("projections", "status", "--database-url", url)
    assert status.exit_code == 0
    lines = {line.split()[1]: line.split() for line in status.output.splitlines() if "│" in line}
    assert lines["site_history"][3:8:2] == ["1", "2", "1"]  # position, head, lag
    assert lines["cases"][3:8:2] == ["0", "2", "2"]
    app.close()


def test_an_unknown_projection_is_refused() -> None:
    refused = runner.invoke(
        cli, ["projections", "rebuild", "nonsense", "--database-url", "popo://"]
    )
    assert refused.exit_code == 2
    assert "no projection named 'nonsense'" in refused.output
