import dataclasses
from pathlib import Path
from starlette.testclient import TestClient
from app.main import create_app
from app.services import build_services
from app.security.passwords import PasswordService
from tests.conftest import FAST_HASHER
from tests import factories, backends
from models.staff import Role

LOGIN = 'mutation($e:String!,$p:String!){ login(input:{email:$e,password:$p}){ token errors{code message} } }'

def test_probe(database_template, settings, tmp_path):
    url = database_template if backends.POSTGRES else backends.sqlite_copy(Path(database_template), tmp_path)
    settings = dataclasses.replace(settings, database_url=url, public_url="https://school.example")
    services = build_services(settings, passwords=PasswordService(FAST_HASHER))
    app = create_app(settings, services)
    with TestClient(app, base_url="https://testserver") as client:
        if backends.POSTGRES:
            client.portal.call(backends.truncate_all)
        async def seed():
            school = await factories.school(services)
            return await factories.staff(school, Role.TEACHER)
        user = client.portal.call(seed)
        r = client.post("/graphql", json={"query": LOGIN, "variables": {"e": user.email, "p": factories.PASSWORD}})
        print(r.status_code, r.headers, r.text)
        r = client.post("/graphql", json={"query": "{ school { name } }"})
        print(r.status_code, r.text)
        for i in range(7):
            r = client.post("/graphql", json={"query": LOGIN, "variables": {"e": user.email, "p": "wrong"}})
            print(r.status_code, r.headers.get("retry-after"), r.text)
        r = client.get("/readyz")
        print(r.status_code, r.text)
        for q in ["{" + "a: viewer { kind } " * 0 + "}", "{ __typename " + "@aa " * 6 + "}", "{ pupl }", "[1]", "{ __schema { types { name } } }", "{ viewer { kind } }"]:
            r = client.post("/graphql", json={"query": q})
            print(q[:40], r.status_code, r.text[:300])
        r = client.post("/graphql", json=[{"query": "{__typename}"}])
        print(r.status_code, r.headers, r.text[:300])
        r = client.get("/metrics")
        print(r.status_code, r.headers, r.text[:300])
        r = client.get("/nope")
        print(r.status_code, r.headers, r.text[:300])
