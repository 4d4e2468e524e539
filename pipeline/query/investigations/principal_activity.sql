-- name: principal_activity
-- description: Everything one principal did: match by IAM user name, principal ARN, principalId or access key id
-- param: principal string — user name, ARN (user or assumed-role session), principalId or access key id (AKIA…/ASIA…)
SELECT eventTime, eventSource, eventName, awsRegion, sourceIPAddress, errorCode, readOnly,
       userIdentity.type AS identity_type, userIdentity.arn AS arn, userIdentity.accessKeyId AS access_key, eventID
FROM cloudtrail
WHERE eventTime >= $start AND eventTime < $end
  AND (userIdentity.userName = $principal OR userIdentity.arn = $principal
       OR userIdentity.accessKeyId = $principal OR userIdentity.principalId = $principal)
ORDER BY eventTime DESC, eventID
LIMIT $limit
