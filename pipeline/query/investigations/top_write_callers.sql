-- name: top_write_callers
-- description: Principals making the most write (readOnly = false) API calls
-- param: top int = 10 — how many principals
SELECT coalesce(userIdentity.arn, userIdentity.invokedBy, userIdentity.type) AS principal,
       count(*) AS writes, count(DISTINCT eventName) AS apis,
       count(*) FILTER (WHERE errorCode IS NOT NULL) AS failed,
       min(eventTime) AS first_seen, max(eventTime) AS last_seen
FROM cloudtrail
WHERE eventTime >= $start AND eventTime < $end
  AND readOnly = false
GROUP BY 1
ORDER BY writes DESC, principal
LIMIT $top
