from starlette.testclient import TestClient
from app.main import create_app
from tests import factories
from models.staff import Role

LOGIN = 'mutation($e:String!,$p:String!){ login(input:{email:$e,password:$p}){ token errors{code message} } }'

async def test_probe(services):
    school = await factories.school(services)
    user = await factories.staff(school, Role.TEACHER)
    app = create_app(services.settings, services, manage_database=False)
    client = TestClient(app, base_url="https://testserver")
    r = client.post("/graphql", json={"query": LOGIN, "variables": {"e": user.email, "p": factories.PASSWORD}})
    print(r.status_code, r.headers, r.text)
    r = client.post("/graphql", json={"query": "{ school { name } }"})
    print(r.status_code, r.text)
    r = client.get("/readyz")
    print(r.status_code, r.text)
    client.close()
