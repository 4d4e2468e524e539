-- name: resource_changes
-- description: Who changed a resource: write calls naming it (id, name or ARN) in request, response or resources
-- param: resource string — e.g. i-0abc…, sg-…, a bucket name, a role name or any ARN
SELECT eventTime, userIdentity.arn AS who, userIdentity.type AS identity_type, eventSource, eventName,
       sourceIPAddress, errorCode, eventID
FROM cloudtrail
WHERE eventTime >= $start AND eventTime < $end
  AND readOnly = false
  AND (contains(requestParameters, $resource) OR contains(responseElements, $resource)
       OR contains(resources, $resource))
ORDER BY eventTime DESC, eventID
LIMIT $limit
