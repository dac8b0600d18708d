"""Deal pipelines as the CRM Pipelines API serves them: HubSpot's default one and a custom one.

A portal starts with the pipeline `default`, whose stage ids are words
(`contractsent`, `closedwon`); pipelines a portal adds get numeric ids, for
the pipeline and for each of its stages. Each stage's `metadata` holds
`isClosed` and `probability` as text, and a deal's `hs_is_closed_won` follows
from its stage: closed with probability 1.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from sandbox.hubspot.values import Json, iso_millis


@dataclass(frozen=True)
class PipelineStage:
    id: str
    label: str
    probability: float
    closed: bool = False

    @property
    def won(self) -> bool:
        return self.closed and self.probability >= 1.0


DEFAULT_PIPELINE = "default"
CUSTOM_PIPELINE = "87654321"
"""A pipeline a portal added: numeric ids, as HubSpot gives them."""
PIPELINES: Mapping[str, tuple[str, tuple[PipelineStage, ...]]] = {
    DEFAULT_PIPELINE: (
        "Sales Pipeline",
        (
            PipelineStage("appointmentscheduled", "Appointment Scheduled", 0.2),
            PipelineStage("qualifiedtobuy", "Qualified To Buy", 0.4),
            PipelineStage("presentationscheduled", "Presentation Scheduled", 0.6),
            PipelineStage("decisionmakerboughtin", "Decision Maker Bought-In", 0.8),
            PipelineStage("contractsent", "Contract Sent", 0.9),
            PipelineStage("closedwon", "Closed Won", 1.0, True),
            PipelineStage("closedlost", "Closed Lost", 0.0, True),
        ),
    ),
    CUSTOM_PIPELINE: (
        "Enterprise",
        (
            PipelineStage("1001", "Discovery", 0.1),
            PipelineStage("1002", "Proposal", 0.5),
            PipelineStage("1003", "Order form sent", 0.9),
            PipelineStage("1004", "Signed", 1.0, True),
            PipelineStage("1005", "Lost", 0.0, True),
        ),
    ),
}
QUOTE_STAGE = {DEFAULT_PIPELINE: "contractsent", CUSTOM_PIPELINE: "1003"}
WON_STAGE = {DEFAULT_PIPELINE: "closedwon", CUSTOM_PIPELINE: "1004"}
LOST_STAGE = {DEFAULT_PIPELINE: "closedlost", CUSTOM_PIPELINE: "1005"}
STAGES: Mapping[str, PipelineStage] = {s.id: s for _, stages in PIPELINES.values() for s in stages}
CREATED_MS = 1_500_000_000_000.0


def closed_won(stage: str) -> bool:
    found = STAGES.get(stage)
    return found is not None and found.won


def pipeline_json(pipeline_id: str) -> Json:
    label, stages = PIPELINES[pipeline_id]
    stamp = iso_millis(CREATED_MS)
    return {
        "id": pipeline_id,
        "label": label,
        "displayOrder": list(PIPELINES).index(pipeline_id),
        "archived": False,
        "createdAt": stamp,
        "updatedAt": stamp,
        "stages": [
            {
                "id": stage.id,
                "label": stage.label,
                "displayOrder": order,
                "metadata": {
                    "isClosed": "true" if stage.closed else "false",
                    "probability": str(stage.probability),
                },
                "archived": False,
                "createdAt": stamp,
                "updatedAt": stamp,
                "writePermissions": "CRM_PERMISSIONS_ENFORCEMENT",
            }
            for order, stage in enumerate(stages)
        ],
    }
