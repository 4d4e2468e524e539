-- name: session_activity
-- description: Everything an assumed-role session did, plus the AssumeRole call that created it
-- param: session string — session ARN (arn:aws:sts::ACCT:assumed-role/ROLE/SESSION), temporary key (ASIA…) or role-id:session
WITH created AS (
    SELECT eventTime, eventSource, eventName, awsRegion, sourceIPAddress, errorCode,
           userIdentity.arn AS caller, 'created the session' AS relation, eventID
    FROM cloudtrail
    WHERE eventTime >= $start AND eventTime < $end
      AND eventName LIKE 'AssumeRole%'
      AND (json_extract_string(responseElements, '$.assumedRoleUser.arn') = $session
           OR json_extract_string(responseElements, '$.credentials.accessKeyId') = $session
           OR json_extract_string(responseElements, '$.assumedRoleUser.assumedRoleId') = $session)
), used AS (
    SELECT eventTime, eventSource, eventName, awsRegion, sourceIPAddress, errorCode,
           userIdentity.arn AS caller, 'called by the session' AS relation, eventID
    FROM cloudtrail
    WHERE eventTime >= $start AND eventTime < $end
      AND userIdentity.type = 'AssumedRole'
      AND (userIdentity.arn = $session OR userIdentity.accessKeyId = $session
           OR userIdentity.principalId = $session)
)
SELECT * FROM created
UNION ALL
SELECT * FROM used
ORDER BY eventTime, eventID
LIMIT $limit
