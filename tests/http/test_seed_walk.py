"""The seed case walked over HTTP in-process, once on each backend."""

from __future__ import annotations

from uuid import UUID

from tests.core.scenario import CHEN_XIAOFENG, LIU_FANG, PASSWORDS, TAO_BIAOYIN, ZHANG_MING
from tests.http.conftest import Api
from tests.http.seed_walk import Cast, Login, walk_seed_scenario


def login(actor) -> Login:
    return Login(actor.user_id, PASSWORDS[actor.user_id])


CAST = Cast(
    inspector=login(CHEN_XIAOFENG),
    supervisor=login(ZHANG_MING),
    party=login(TAO_BIAOYIN),
    auditor=login(LIU_FANG),
)


def test_the_seed_case_walks_from_inspection_to_closing(backend_api: Api) -> None:
    result = walk_seed_scenario(backend_api.client, backend_api, CAST)
    hazard = backend_api.rectify.get_hazard(UUID(result.case_id))
    assert hazard.status == "closed"
    closed = backend_api.sweep.events_since(0)[-1]
    assert closed.signature.signer_id == ZHANG_MING.user_id
    assert closed.signature.meaning.startswith("closed as rectified")
