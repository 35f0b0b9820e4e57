-- The device registry ingestd checks every device against (README "Registry, outages and quarantine"): the
-- `device_registry` table of the service ingestd replaces, and two sample devices (the same as
-- config/devices.json). Run once by the postgres container on an empty data volume.
-- provision_token_hash is the sha256 hex of the device's token: `ingestd hash-token demo-token-d1`.
CREATE TABLE IF NOT EXISTS device_registry (
    tenant_id            text        NOT NULL,
    device_id            text        NOT NULL,
    site_id              text        NOT NULL,
    status               text        NOT NULL DEFAULT 'ACTIVE',
    provision_token_hash text,
    created_at           timestamptz NOT NULL DEFAULT now(),
    updated_at           timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, device_id)
);

INSERT INTO device_registry (tenant_id, device_id, site_id, status, provision_token_hash) VALUES
    ('t1', 'd1', 's1', 'ACTIVE', 'c34af2c922e17921966bd0533cbd5c68ce9e4ebf6ee83dd98e52176ef411e08d'),  -- token demo-token-d1
    ('t1', 'd2', 's1', 'ACTIVE', 'cdbbee0724e23f2b139b279c3e2642641f7ad0fd78c7d427965e8cedc34a8b86')   -- token demo-token-d2
ON CONFLICT (tenant_id, device_id) DO NOTHING;
