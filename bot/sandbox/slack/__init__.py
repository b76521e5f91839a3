"""A Slack Web API simulator and driver for tests and the sandbox (DESIGN.md §8).

`SlackSim` answers `/api/<method>` like Slack, records what the bot did, and
sends the bot Slack-signed slash commands, interactions and events.
"""

from bot.sandbox.slack.sim import SlackSim
from bot.sandbox.slack.state import SlackState
from bot.sandbox.slack.transport import DeliveryResult

__all__ = ["DeliveryResult", "SlackSim", "SlackState"]
