"""Services: what a command does, shared by the slash commands, console mode and the CLI."""
