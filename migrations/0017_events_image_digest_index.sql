-- Where an image digest was pushed or published: GET /api/cdevents names the
-- repository of each deployed image in its purl (app/api/services/cdevents.py),
-- looking the digest up among ImagePushed and ArtifactPublished events. Without
-- this index that lookup reads every such event of the ledger.
CREATE INDEX events_image_digest_idx ON events ((data->>'digest'), position)
    WHERE type IN ('ImagePushed', 'ArtifactPublished');
