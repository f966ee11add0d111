-- Instance facts next to each price, so rightsizing and previous-generation advice can
-- find the cheapest type that fits (vCPUs, memory, GPUs) without a separate catalogue.
ALTER TABLE prices ADD COLUMN vcpus INTEGER;
ALTER TABLE prices ADD COLUMN memory_gb DOUBLE;
ALTER TABLE prices ADD COLUMN gpu_count INTEGER;
ALTER TABLE prices ADD COLUMN gpu_model VARCHAR;
ALTER TABLE prices ADD COLUMN current_generation BOOLEAN;
