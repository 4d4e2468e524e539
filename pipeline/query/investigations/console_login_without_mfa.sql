-- name: console_login_without_mfa
-- description: Successful console sign-ins that did not use MFA (additionalEventData.MFAUsed is not Yes)
SELECT eventTime, userIdentity.type AS identity_type,
       coalesce(userIdentity.userName, userIdentity.arn) AS who, sourceIPAddress, userAgent,
       coalesce(json_extract_string(additionalEventData, '$.MFAUsed'), 'No') AS mfa_used, eventID
FROM cloudtrail
WHERE eventTime >= $start AND eventTime < $end
  AND eventName = 'ConsoleLogin'
  AND json_extract_string(responseElements, '$.ConsoleLogin') = 'Success'
  AND coalesce(json_extract_string(additionalEventData, '$.MFAUsed'), 'No') <> 'Yes'
ORDER BY eventTime DESC, eventID
LIMIT $limit
