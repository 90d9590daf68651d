"""GET /api/crm/leads/{id}: a lead with its scores, grade, reasons and status."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, jsonify

from handlers.crm.leads import get_lead
from webui.api.access import LEAD_READERS, require_group
from webui.rest.common import engine

bp = Blueprint("api_crm", __name__, url_prefix="/crm")


@bp.get("/leads/<lead_id>")
def lead(lead_id: str) -> Any:
    require_group(LEAD_READERS, "leads")
    with engine().database.read() as session:
        found = get_lead(session, lead_id)
        return jsonify(
            {
                "id": found.id,
                "email": found.email,
                "name": found.name,
                "company": found.company,
                "country": found.country,
                "status": found.status,
                "score": found.score,
                "fit": found.fit,
                "engagement": found.engagement,
                "grade": found.grade,
                "reasons": found.reasons or [],
                "lostReason": found.lost_reason,
                "lostNote": found.lost_note,
                "duplicateOfId": found.duplicate_of_id,
                "customerId": found.customer_id,
                "processInstanceId": found.process_instance_id,
                "createdAt": found.created_at.isoformat(),
                "updatedAt": found.updated_at.isoformat(),
            }
        )
