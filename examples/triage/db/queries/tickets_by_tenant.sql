-- The inbox: a tenant's latest tickets.
SELECT id, status, created_at
FROM tickets
WHERE tenant_id = 42
ORDER BY created_at DESC
LIMIT 50;
