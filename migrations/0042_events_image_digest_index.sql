-- Where an image went: the web image page looks up the deployment events
-- (DeploymentStarted, DeploymentSucceeded, RolledBack) that name a digest.
-- Partial, so only events that carry an image_digest pay for it on append.
CREATE INDEX events_deployed_digest_idx ON events ((data->>'image_digest'), tx_id, position)
    WHERE data ? 'image_digest';
