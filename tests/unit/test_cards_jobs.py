"""`bot/cards/jobs.py`: the account's jobs, each with its counts and **Proposals**."""

from __future__ import annotations

import json
from typing import Any

import pytest

from bot import cards
from bot.cards import ActionId
from bot.opentrain import MyJob
from tests.unit.cards_helpers import HOST, blocks, of_type, texts
from tests.unit.cards_limits import RTL_OVERRIDE, assert_fits

HOSTILE = (
    "<!channel> <!here> <@U123> <!subteam^S123> <https://evil.example|click> "
    f"*bold* `tick` &amp; > quote 🎉 {RTL_OVERRIDE}gnp.exe\u202c"
)


def job(job_id: str = "job_1", **fields: Any) -> MyJob:
    data: dict[str, Any] = {
        "id": job_id,
        "title": "Dashcam boxes",
        "status": "OPEN",
        "jobUrl": f"https://{HOST}/jobs/{job_id}",
        "proposalCounts": {"total": 3, "unreviewed": 1},
        **fields,
    }
    return MyJob.model_validate(data)


def listed(jobs: list[MyJob], *, status: str | None = None, more: bool = False) -> Any:
    return cards.jobs_list(jobs, status=status, more=more, opentrain_host=HOST)


def test_each_job_is_one_section_linked_with_status_counts_and_proposals() -> None:
    message = listed([job(), job("job_2", title="Lidar", status="PENDING_APPROVAL")])
    sections = of_type(message, "section")
    assert len(sections) == 2
    first = sections[0]["text"]["text"]
    assert first == (
        f"*<https://{HOST}/jobs/job_1|Dashcam boxes>* · open · 3 proposals, 1 unreviewed\n"
        "Job `job_1`"
    )
    assert "pending approval" in sections[1]["text"]["text"]
    button = sections[0]["accessory"]
    assert (button["action_id"], button["value"], button["text"]["text"]) == (
        ActionId.OPEN_JOB_PROPOSALS.value,
        "job_1",
        "Proposals",
    )
    assert message.text == "Your OpenTrain jobs: Dashcam boxes, Lidar"
    assert "Completed and archived ones are left out" in texts(message)
    assert_fits(message)


def test_a_status_is_named_and_nothing_is_said_to_be_left_out() -> None:
    message = listed(
        [job(status="DRAFT", proposalCounts={"total": 1, "unreviewed": 0})], status="DRAFT"
    )
    shown = texts(message)
    assert "1 job (draft), newest first." in shown and "left out" not in shown
    assert "1 proposal, 0 unreviewed" in shown


@pytest.mark.parametrize("text", [HOSTILE, "<!channel>", "<https://x|y>", HOSTILE + "x" * 5_000])
def test_titles_are_escaped_and_cut(text: str) -> None:
    message = listed([job(title=text, status=text), job("job_2", title=text, jobUrl=None)])
    kwargs = assert_fits(message)  # no active markup anywhere shown, every limit kept
    shown = json.dumps(kwargs, ensure_ascii=False)
    assert "&lt;!channel&gt;" in shown or "&lt;https://x|y&gt;" in shown
    [first, second] = of_type(message, "section")
    assert first["text"]["text"].startswith(f"*<https://{HOST}/jobs/job_1|")
    # Without a jobUrl the link is the documented shape on the host.
    assert second["text"]["text"].startswith(f"*<https://{HOST}/jobs/job_2|")


@pytest.mark.parametrize(
    "url",
    [
        "https://evil.example/jobs/job_1",
        f"https://{HOST}.evil.example/jobs/job_1",
        f"http://{HOST}/jobs/job_1",
        f"https://user@{HOST}/jobs/job_1",
        f"https://{HOST}/jobs/{'x' * 600}",
    ],
)
def test_a_job_link_off_the_host_or_too_long_is_not_made(url: str) -> None:
    message = listed([job(jobUrl=url)])
    [section] = of_type(message, "section")
    assert section["text"]["text"].startswith("*Dashcam boxes* · open")
    assert "<" not in section["text"]["text"]


def test_missing_fields_still_render() -> None:
    message = listed([MyJob.model_validate({"id": "job_bare"})])
    [section] = of_type(message, "section")
    assert section["text"]["text"] == (
        f"*<https://{HOST}/jobs/job_bare|job_bare>* · proposals not counted\nJob `job_bare`"
    )
    assert_fits(message)


def test_no_more_than_twenty_and_a_hint_to_narrow() -> None:
    many = [job(f"job_{n}", title="t" * 150) for n in range(60)]
    message = listed(many, more=True)
    assert_fits(message)
    assert len(of_type(message, "section")) == 20
    assert len(blocks(message)) <= 50
    assert "…and 40 more: narrow with `/opentrain jobs &lt;status&gt;`." in texts(message)
    more_pages = listed([job()], more=True)
    assert "…and more: narrow with" in texts(more_pages)


def test_no_jobs_says_so() -> None:
    assert listed([]).text == "This OpenTrain account has no current jobs."
    assert listed([], status="ARCHIVED").text == "This OpenTrain account has no archived jobs."
