-- name: security_changes
-- description: Changes to CloudTrail trails, security groups and IAM policies (category: all, cloudtrail, security_group, iam_policy)
-- param: category string = 'all' — all, cloudtrail, security_group or iam_policy
WITH classified AS (
    SELECT *,
           CASE WHEN eventSource = 'cloudtrail.amazonaws.com' AND eventName IN (
                    'StopLogging', 'DeleteTrail', 'UpdateTrail', 'PutEventSelectors',
                    'PutInsightSelectors', 'CreateTrail', 'StartLogging') THEN 'cloudtrail'
                WHEN eventSource = 'ec2.amazonaws.com' AND eventName IN (
                    'AuthorizeSecurityGroupIngress', 'AuthorizeSecurityGroupEgress',
                    'RevokeSecurityGroupIngress', 'RevokeSecurityGroupEgress', 'CreateSecurityGroup',
                    'DeleteSecurityGroup', 'ModifySecurityGroupRules',
                    'UpdateSecurityGroupRuleDescriptionsIngress',
                    'UpdateSecurityGroupRuleDescriptionsEgress') THEN 'security_group'
                WHEN eventSource = 'iam.amazonaws.com' AND eventName IN (
                    'PutUserPolicy', 'PutRolePolicy', 'PutGroupPolicy', 'DeleteUserPolicy',
                    'DeleteRolePolicy', 'DeleteGroupPolicy', 'AttachUserPolicy', 'AttachRolePolicy',
                    'AttachGroupPolicy', 'DetachUserPolicy', 'DetachRolePolicy', 'DetachGroupPolicy',
                    'CreatePolicy', 'CreatePolicyVersion', 'DeletePolicy', 'DeletePolicyVersion',
                    'SetDefaultPolicyVersion', 'UpdateAssumeRolePolicy') THEN 'iam_policy'
           END AS category
    FROM cloudtrail
    WHERE eventTime >= $start AND eventTime < $end
)
SELECT eventTime, category, eventName, userIdentity.arn AS who, sourceIPAddress, errorCode,
       left(coalesce(requestParameters, ''), 200) AS request, eventID
FROM classified
WHERE category IS NOT NULL AND ($category = 'all' OR category = $category)
ORDER BY eventTime DESC, eventID
LIMIT $limit
