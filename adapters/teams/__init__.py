"""The Microsoft Teams bot (issue 7). Only framework.py imports the Bot Framework SDK."""
