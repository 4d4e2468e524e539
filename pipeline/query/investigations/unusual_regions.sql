-- name: unusual_regions
-- description: API calls from regions outside the usual set (given, or regions with under min_share of calls)
-- param: usual string = '' — comma-separated usual regions (empty: decide by min_share)
-- param: min_share float = 0.01 — without `usual`, a region with less than this share of calls is unusual
WITH per_region AS (
    SELECT awsRegion, count(*) AS calls, count(DISTINCT userIdentity.arn) AS principals,
           min(eventTime) AS first_seen, max(eventTime) AS last_seen,
           list(DISTINCT eventName ORDER BY eventName) AS apis
    FROM cloudtrail
    WHERE eventTime >= $start AND eventTime < $end
    GROUP BY awsRegion
), shares AS (
    SELECT *, calls / sum(calls) OVER () AS share FROM per_region
)
SELECT awsRegion, calls, round(share, 4) AS share, principals, first_seen, last_seen, apis
FROM shares
WHERE CASE WHEN $usual = '' THEN share < $min_share
           ELSE NOT list_contains(list_transform(string_split($usual, ','), lambda x: trim(x)), awsRegion) END
ORDER BY calls, awsRegion
LIMIT $limit
