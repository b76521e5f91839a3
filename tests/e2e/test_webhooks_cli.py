"""`python -m bot webhooks register|list|delete`, run as a real process against the simulator."""

from __future__ import annotations

import asyncio
import os
import re
import sys
from pathlib import Path

from tests.support.opentrain_sim import OpenTrainSimHandle

ROOT = Path(__file__).resolve().parents[2]
URL = "https://cosign.example.com/opentrain/webhook"


async def cli(opentrain: OpenTrainSimHandle | None, *args: str) -> tuple[int, str]:
    env = {"PATH": os.environ.get("PATH", ""), "LOG_LEVEL": "WARNING"}
    if opentrain is not None:
        env |= {"OT_API_TOKEN": opentrain.full_token, "OT_API_BASE_URL": opentrain.origin}
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot",
        "webhooks",
        *args,
        cwd=ROOT,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    output, _ = await asyncio.wait_for(process.communicate(), timeout=60)
    assert process.returncode is not None
    return process.returncode, output.decode()


async def test_register_list_and_delete(opentrain_sim: OpenTrainSimHandle) -> None:
    status, output = await cli(opentrain_sim, "register", "--url", URL)
    assert status == 0, output
    created = re.search(r"Created webhook (\S+) → (\S+)", output)
    secret = re.search(r"OT_WEBHOOK_SECRET=(whsec_\w+)", output)
    assert created and secret, output
    webhook_id = created.group(1)
    stored = opentrain_sim.state.webhooks[webhook_id]
    assert stored.url == URL and stored.secret == secret.group(1)
    assert [t.value for t in stored.event_types] == [
        "approval.confirmed",
        "milestone.status_changed",
        "contract.created",
        "payment.pending",
        "proposal.received",
        "message.received",
        "contract.budget_state_changed",
    ]

    status, output = await cli(opentrain_sim, "list")
    assert status == 0 and webhook_id in output and "ACTIVE" in output and URL in output
    assert secret.group(1) not in output  # the secret is shown once, at registration

    status, output = await cli(opentrain_sim, "delete", webhook_id)
    assert status == 0 and f"Deleted webhook {webhook_id}" in output
    assert opentrain_sim.state.webhooks == {}
    status, output = await cli(opentrain_sim, "list")
    assert status == 0 and "No webhook subscriptions." in output


async def test_refusals_and_missing_configuration(opentrain_sim: OpenTrainSimHandle) -> None:
    status, output = await cli(opentrain_sim, "delete", "wh_nope")
    assert status == 1 and "OpenTrain refused" in output and "NOT_FOUND" in output
    status, output = await cli(opentrain_sim, "register", "--url", "http://example.com/hook")
    assert status == 1 and "BAD_REQUEST" in output
    status, output = await cli(None, "list")
    assert status == 2 and "OT_API_TOKEN is not set." in output
