"""A stateful OpenTrain Public API simulator (opentrain-api.md), for tests and the sandbox.

One origin serves three things:

* `/api/public/v1/…` — the Public API endpoints the bot uses, with the error
  envelope, scopes, feature flags, the claim gate, co-signed approvals, the
  `/updates` feed and signed webhook deliveries.
* `/approvals/{id}` — the page behind `approvalUrl` where a human confirms or
  declines (`/claim` and `/settings/billing` are placeholders; `/` lists approvals);
  `/trainer` plays the other side: a new applicant, a trainer's message, submitted
  work, logged hours or labels (forms over the same state operations as `/_sim`).
* `/_sim/…` — the control API: `GET state`, `POST approvals/{id}/confirm|decline`,
  `GET clock`, `POST clock/advance`, `POST|DELETE faults`, `GET requests?since=`,
  `POST seed`, `PATCH account`, `POST tokens`, `POST proposals`, `POST messages`,
  `POST contracts/{id}/usage`, `POST milestones/{id}/submit` (the trainer's work),
  `GET|PATCH config` (the behaviours OpenTrain's docs leave open: `config.py`).

Run it alone with `python -m bot.sandbox.opentrain --port 8701 --seed demo`
(`--help` lists the switches for what the docs leave open).

Modules: `server.py` (the origin), `plumbing.py` (envelope, gates, parsing),
`api.py` and `api_messages.py` (the endpoints), `cosign.py` / `decisions.py` /
`contracts.py` / `messaging.py` / `subscriptions.py` (the rules), `vocabulary.py`
(scopes, flags, statuses) and `model.py` (the entities), the state in layers
(`world.py` → `books.py` → `marketplace.py` → `state.py`), `seed.py` (scenarios),
`webhooks.py` (deliveries), `human.py` (the approval page), `trainer_page.py` (the
other side's page), `control.py`.
"""

from bot.sandbox.opentrain.server import OpenTrainSim
from bot.sandbox.opentrain.state import SimState

__all__ = ["OpenTrainSim", "SimState"]
