-- The badge: how many of a tenant's tickets are open.
SELECT count(*)
FROM tickets
WHERE tenant_id = 42 AND status = 'open';
