-- name: denied_and_throttled
-- description: AccessDenied-type and throttling errors counted by principal and source IP
WITH errs AS (
    SELECT coalesce(userIdentity.arn, userIdentity.type) AS principal, sourceIPAddress, errorCode, eventName,
           eventTime,
           CASE WHEN errorCode IN ('AccessDenied', 'AccessDeniedException', 'UnauthorizedOperation',
                                   'Client.UnauthorizedOperation', 'UnauthorizedAccess', 'Forbidden')
                THEN 'denied' ELSE 'throttled' END AS kind
    FROM cloudtrail
    WHERE eventTime >= $start AND eventTime < $end
      AND errorCode IN ('AccessDenied', 'AccessDeniedException', 'UnauthorizedOperation',
                        'Client.UnauthorizedOperation', 'UnauthorizedAccess', 'Forbidden',
                        'Throttling', 'ThrottlingException', 'RequestLimitExceeded',
                        'Client.RequestLimitExceeded', 'TooManyRequestsException', 'SlowDown',
                        'RequestThrottled', 'ProvisionedThroughputExceededException')
)
SELECT principal, sourceIPAddress,
       count(*) FILTER (WHERE kind = 'denied') AS denied,
       count(*) FILTER (WHERE kind = 'throttled') AS throttled,
       count(DISTINCT eventName) AS apis, min(eventTime) AS first_seen, max(eventTime) AS last_seen
FROM errs
GROUP BY principal, sourceIPAddress
ORDER BY denied + throttled DESC, principal, sourceIPAddress
LIMIT $limit
