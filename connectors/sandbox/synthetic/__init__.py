"""The parts of the synthetic world generator; `connectors.sandbox.generate` puts them together.

`vocabulary` holds the words (industries, roles, names, pages, campaign kinds);
`population` who is in the world and their hidden traits; `activity` the event
log, the site and what people do off email; `sales` the sales process; `mailing`
campaign email.
"""
