"""The steepest playground: watch a network learn in the browser (``steepest playground``).

``session`` trains (config -> steps -> snapshots) in plain Python; ``server`` serves the page
and one websocket session per tab; ``static/`` draws. See README.md in this folder for the
page hooks, URL keys and messages.
"""

__all__: list = []  # the modules are the API: session, server, config, ...
