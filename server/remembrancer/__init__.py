"""Remembrancer: a long-term memory for MCP assistants."""
