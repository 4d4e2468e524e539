-- name: new_keys_and_users
-- description: IAM users, access keys and console passwords created (successful calls only)
SELECT eventTime, eventName,
       userIdentity.arn AS created_by,
       coalesce(json_extract_string(responseElements, '$.user.userName'),
                json_extract_string(responseElements, '$.accessKey.userName'),
                json_extract_string(requestParameters, '$.userName')) AS user_name,
       json_extract_string(responseElements, '$.accessKey.accessKeyId') AS access_key_id,
       sourceIPAddress, eventID
FROM cloudtrail
WHERE eventTime >= $start AND eventTime < $end
  AND eventSource = 'iam.amazonaws.com'
  AND eventName IN ('CreateUser', 'CreateAccessKey', 'CreateLoginProfile')
  AND errorCode IS NULL
ORDER BY eventTime DESC, eventID
LIMIT $limit
