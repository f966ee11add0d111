-- What a price is for and when it was set, so one table holds every price the rules use:
-- on-demand and spot prices of instance types, and unit prices of storage, addresses,
-- NAT gateways, load balancers and file systems (``product``, for a row without an
-- instance type: ``volume:gp3``, ``snapshot``, ``nat_gateway`` …; ``price_per_hour`` is
-- then the price per ``unit``, e.g. GB-Months). ``effective_at`` is the date the cloud gives the price (the price
-- list's effective date, the spot price's timestamp).
ALTER TABLE prices ADD COLUMN product VARCHAR;
ALTER TABLE prices ADD COLUMN price_type VARCHAR;
ALTER TABLE prices ADD COLUMN effective_at TIMESTAMP;
