"""Which cluster a stack targets (its type, context and defaults; plain data, no Pulumi SDK: the
policy pack and tools/preflight import it) and the explicit provider for it."""
