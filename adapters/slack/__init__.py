"""The Slack app (issue 6): Bolt mounted on `policybot serve`, answers rendered as Block Kit."""
