"""The Slack simulator's web client: watch and drive the sandbox from a browser.

Served by `SlackSim` at `/`: channels and DMs of one chosen person (unread ones
marked), messages rendered from their Block Kit, threads, a composer for
`/opentrain …`, modals as forms (dispatching inputs as Slack does), the App Home
tab, and live updates over server-sent events. Message permalinks
(`/archives/…`) open here. The HTML of every pane is rendered (and escaped) here
in Python; the page's scripts only swap panes and turn what the person does into
the simulator's driver calls.
"""

from bot.sandbox.slack.viewer.routes import Viewer

__all__ = ["Viewer"]
