-- What a service runs now is decided by the ledger's order of its finished rollouts
-- and rollbacks, not by the times tools report (app/queries/deployments.py): this
-- index serves that order as 0021's (environment, service, at) served the old one.
CREATE INDEX proj_deployment_events_v1_running_order_idx
    ON proj_deployment_events_v1 (environment, service, tx_id, position)
    WHERE kind IN ('succeeded', 'rolled_back');
