"""The sync layer: settings, the command line, and (to come) the state store and pipeline."""
