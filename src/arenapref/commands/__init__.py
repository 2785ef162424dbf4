"""One module per sub-command of the ``arenapref`` CLI."""
