"""Commands of the seed's sweep, counted: the load the integration tests replay."""

from __future__ import annotations

from collections.abc import Iterator

from domain.checklists import get_template
from domain.values import Severity
from tests.core.scenario import EPIDEMIC_2022, FAILED_ITEM, SITES, Sweep

ITEMS = get_template(EPIDEMIC_2022).item_codes


def case_commands(sweep: Sweep, site: str) -> Iterator[None]:
    """One case of ``site`` taken to closed, a command per step."""
    inspection = sweep.open_inspection(site)
    yield
    for code in ITEMS:
        failed = code == FAILED_ITEM
        sweep.record(
            inspection, code, "fail" if failed else "pass", note="缺一次核酸检测" if failed else ""
        )
        yield
    hazard = sweep.report_hazard(inspection, Severity.GENERAL)
    yield
    order = sweep.issue_order(hazard)
    yield
    sweep.acknowledge(order)
    yield
    sweep.report_completion(order)
    yield
    sweep.verify(hazard)
    yield
    sweep.close(hazard)
    yield


def run_commands(sweep: Sweep, count: int) -> int:
    """Run ``count`` commands (cases taken to closed, site after site, the last
    one cut short); return how many events they recorded."""
    start = sweep.log_position()
    sites = list(SITES)
    for site in sites:
        sweep.site(site)
    done = len(sites)
    n = 0
    while done < count:
        for _ in case_commands(sweep, sites[n % len(sites)]):
            done += 1
            if done == count:
                break
        n += 1
    return sweep.log_position() - start
