-- name: root_usage
-- description: Calls made with the account root user's credentials (not by AWS services on its behalf)
SELECT eventTime, eventSource, eventName, awsRegion, sourceIPAddress, userAgent, errorCode,
       recipientAccountId, eventID
FROM cloudtrail
WHERE eventTime >= $start AND eventTime < $end
  AND userIdentity.type = 'Root'
  AND userIdentity.invokedBy IS NULL
ORDER BY eventTime DESC, eventID
LIMIT $limit
