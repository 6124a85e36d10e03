"""policybot core: knowledge base, retrieval, decisions. Knows nothing of Slack or Teams."""

__version__ = "0.1.0"
