"""What a command saved, as its caller sees it: the application tells each thread
the recordings of its own saves, so an answer's versions come from the command's
own events."""

from __future__ import annotations

import threading

from application.app import RectifyApp
from domain.numbering import OrderNumberSequence
from tests.core.scenario import CHEN_XIAOFENG, Stage, Sweep


def test_collecting_saves_gives_the_commands_own_recordings(app: RectifyApp, sweep: Sweep) -> None:
    case = sweep.arrange_case(Stage.HAZARD_REPORTED)
    hazard_before = sweep.version(case.hazard)

    with app.collecting_saves() as recordings:
        order_id = sweep.issue_order(case.hazard)

    saved = {r.domain_event.originator_id: r.domain_event.originator_version for r in recordings}
    assert saved == {
        order_id: 1,
        case.hazard: hazard_before + 1,
        OrderNumberSequence.id_for_year(2022): 2,  # started, then the first number
    }
    assert recordings[-1].notification.id == app.recorder.max_notification_id()


def test_collecting_saves_sees_only_its_own_thread(app: RectifyApp, sweep: Sweep) -> None:
    case = sweep.arrange_case(Stage.ACKNOWLEDGED)
    other_thread_saved = threading.Event()

    def elsewhere() -> None:
        app.report_progress(CHEN_XIAOFENG, case.order, note="已采购登记簿", expected_version=None)
        other_thread_saved.set()

    with app.collecting_saves() as recordings:
        thread = threading.Thread(target=elsewhere)
        thread.start()
        thread.join()
        assert other_thread_saved.is_set()
    assert recordings == []

    with app.collecting_saves() as outer:
        with app.collecting_saves() as inner:
            sweep.report_completion(case.order)
        assert len(inner) == 2  # the order and its hazard
    assert outer == []
