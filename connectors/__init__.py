"""Connectors: lazy sources of (table, partition, Arrow) batches; they never open the store."""
