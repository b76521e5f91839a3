"""`bot/cards/proposals.py` and the ranking behind it (`bot/proposals.py`)."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

from bot import cards
from bot.cards import ActionId
from bot.opentrain import Interview, Proposal
from bot.proposals import rank

HOST = "app.opentrain.ai"


def proposal(pid: str, interview: int | None, match: str | None, **extra: Any) -> Proposal:
    return Proposal.model_validate(
        {
            "id": pid,
            "jobId": "job_1",
            "jobTitle": "Dashcam <boxes>",
            "status": {"raw": "UNREVIEWED", "label": "Unreviewed"},
            "bid": {"amountUsd": "450", "unit": "FIXED"},
            "candidate": {"id": f"u_{pid}", "displayName": f"{pid} L.", "profileSlug": pid},
            "metrics": {"interviewScore": interview, "matchScore": match},
            **extra,
        }
    )


def test_best_interview_first_then_match_and_missing_scores_last() -> None:
    ranked = rank(
        [
            proposal("a", 80, "0.9"),
            proposal("b", None, "0.99"),
            proposal("c", 92, "0.5"),
            proposal("d", 80, "0.95"),
        ]
    )
    assert [p.id for p in ranked] == ["c", "d", "a", "b"]


def test_each_proposal_has_hire_with_its_bid_a_profile_on_the_host_and_a_transcript() -> None:
    message = cards.proposals_list(
        [proposal("ada", 92, "0.94", aiInterview={"summary": "<!channel> great"})],
        job_id="job_1",
        status=None,
        more=False,
        opentrain_host=HOST,
    )
    shown = json.dumps(message.as_kwargs()["blocks"])
    assert "&lt;!channel&gt; great" in shown and "<!channel>" not in shown
    actions = [b for b in message.as_kwargs()["blocks"] if b["type"] == "actions"]
    [hire, profile, transcript] = actions[0]["elements"]
    assert hire["action_id"] == ActionId.HIRE_PROPOSAL.value
    assert json.loads(hire["value"]) == {"proposalId": "ada", "amount": "450"}
    assert profile["url"] == f"https://{HOST}/profile/ada"
    assert transcript["action_id"] == ActionId.OPEN_TRANSCRIPT.value


def test_no_more_than_ten_and_a_hint_to_narrow() -> None:
    many = [proposal(f"p{n}", n, None) for n in range(12)]
    message = cards.proposals_list(
        many, job_id="job_1", status=None, more=True, opentrain_host=HOST
    )
    blocks = message.as_kwargs()["blocks"]
    assert len([b for b in blocks if b["type"] == "actions"]) == 10
    assert "/opentrain proposals job_1 &lt;status&gt;" in json.dumps(blocks)
    assert len(blocks) <= 50


def test_an_empty_list_says_so() -> None:
    message = cards.proposals_list(
        [], job_id="job_1", status="SHORTLISTED", more=False, opentrain_host=HOST
    )
    assert message.text == "Job job_1 has no shortlisted proposals."


def test_the_transcript_shows_who_said_what_escaped() -> None:
    interview = Interview.model_validate(
        {
            "score": Decimal(90),
            "summary": "ok",
            "messages": [
                {"role": "interviewer", "content": "Why?"},
                {"role": "candidate", "content": "<https://evil|x>"},
            ],
        }
    )
    view = cards.transcript_modal(interview, who="Ada L.").to_dict()
    shown = json.dumps(view)
    assert "*Interviewer*" in shown and "*Ada L.*" in shown
    assert "&lt;https://evil|x&gt;" in shown
    assert "submit" not in view
