"""Exports for CPOMS or MyConcern over GraphQL: one alert, or a learner's chronology."""

from __future__ import annotations

import strawberry

from resolvers.safeguarding import export
from schema.common import Info, parse_uuid_id

strawberry.enum(export.ExportFormat, description="JSON (structured) or CSV (one incident per row).")


@strawberry.type(description="An export's text, to save as a file and import by hand.")
class ExportDocument:
    filename: str = strawberry.field(description="A suggested file name.")
    content_type: str = strawberry.field(description="The document's media type.")
    content: str = strawberry.field(description="The document itself.")
    incidents: int = strawberry.field(description="How many alerts or concerns it holds.")

    @classmethod
    def from_document(cls, document: export.Document) -> ExportDocument:
        return cls(
            filename=document.filename,
            content_type=document.content_type,
            content=document.content,
            incidents=document.incidents,
        )


@strawberry.type
class SafeguardingExportQuery:
    @strawberry.field(
        description="One alert with its evidence, actions and outcome, for CPOMS or "
        "MyConcern (safeguarding leads; audited)."
    )
    async def export_alert(
        self, info: Info, id: strawberry.ID, format: export.ExportFormat
    ) -> ExportDocument:
        document = await export.export_alert(info.context, parse_uuid_id(id, "Alert"), format)
        return ExportDocument.from_document(document)

    @strawberry.field(
        description="Every alert and concern about a learner, oldest first, with actions "
        "and outcomes (safeguarding leads; audited)."
    )
    async def export_learner_chronology(
        self, info: Info, learner_id: strawberry.ID, format: export.ExportFormat
    ) -> ExportDocument:
        learner = parse_uuid_id(learner_id, "Learner", "learnerId")
        document = await export.export_chronology(info.context, learner, format)
        return ExportDocument.from_document(document)


__all__ = ["ExportDocument", "SafeguardingExportQuery"]
