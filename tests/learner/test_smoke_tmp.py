from tests.api.helpers import seed_learner
from tests.conftest import TENANT_A, auth
from tests.learner.helpers import *

async def test_smoke(host, client):
    use_clock(host)
    await seed_learner(host, TENANT_A, "learner-1")
    r = await import_graph(client, host, chain_graph())
    assert r.status_code == 201, r.text
    q = await add_question(host, TENANT_A, "counting")
    for i in range(5):
        r = await answer(client, host, q, correct=1)
        assert r.status_code == 201, r.text
    print(r.json())
    r = await client.get("/api/mastery", headers=auth(host))
    assert r.status_code == 200, r.text
    print(r.json())
    assert 0
