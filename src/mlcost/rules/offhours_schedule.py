"""Off-hours schedule: a dev machine that works office hours and idles nights and weekends.

What it finds: a running notebook, or a running VM tagged non-production (a tag in
``env_tag_keys`` whose value is not one of ``production_values``: ``env = dev``,
``environment = staging`` …), whose hourly utilisation over the last ``lookback_days``
days shows work in office hours and none outside them. Office hours are
``work_start_hour`` to ``work_end_hour``, Monday to Friday, in UTC shifted by
``utc_offset_hours``; an hour is busy when its average CPU is above ``busy_cpu_pct`` or its
GPUs above ``busy_gpu_pct``. It needs hourly samples on at least ``min_coverage_pct`` % of
the window's hours, at least ``min_busy_hours`` busy office hours (a machine idle all week
is ``idle_vm``'s, not a schedule's), and at most ``max_offhours_busy_pct`` % of the
off-hours hours busy.

Why it matters: nights and weekends are 108 of the week's 168 hours: a GPU workstation or
notebook stopped outside office hours costs 64 % less, with nobody noticing.

Safe action: put it on a schedule (AWS Instance Scheduler, Azure auto-shutdown or a
start/stop automation, a GCP instance schedule, notebook idle shutdown); tag the machines
that must stay up as production so this rule leaves them alone.

Saving: monthly cost × the share of the week's hours that are off-hours and were idle
in every week observed (a schedule stops the machine then). The evidence shows the
hour-of-week pattern: a line per weekday (``"Mon ........#########......."``), one
character per hour from 00:00 (``#`` busy, ``.`` idle, a space: no data), in the
shifted time.
"""

from mlcost.rules.base import Param, Rule

RULE = Rule(
    id="offhours_schedule",
    doc=__doc__ or "",
    resource_types=("vm", "notebook"),
    needs=("inventory", "metrics"),
    params=(
        Param("lookback_days", 14, "Days of hourly utilisation judged.", minimum=7, maximum=120),
        Param("work_start_hour", 8, "Office hours start (hour of day).", minimum=0, maximum=23),
        Param("work_end_hour", 20, "Office hours end (hour of day, exclusive).", 1, 24),
        Param("utc_offset_hours", 0, "The office's offset from UTC in hours.", -12, 14),
        Param("busy_cpu_pct", 10.0, "An hour above this average CPU % is busy.", 0, 100),
        Param("busy_gpu_pct", 10.0, "…or above this average GPU %.", 0, 100),
        Param("min_coverage_pct", 80.0, "Hourly samples on at least this % of hours.", 1, 100),
        Param("min_busy_hours", 10, "Busy office hours needed (else it is just idle).", 1),
        Param("max_offhours_busy_pct", 2.0, "At most this % of off-hours hours busy.", 0, 100),
        Param("env_tag_keys", "env,environment,stage", "Tags that name the environment."),
        Param(
            "production_values",
            "prod,production,prd,live",
            "Environment tag values that mark production (left alone).",
        ),
    ),
    sql="""
WITH candidates AS (
    SELECT r.*
    FROM rule_resources r
    WHERE lower(coalesce(r.state, '')) IN ('running', 'inservice', 'active')
      AND (r.resource_type = 'notebook'
           OR (r.resource_type = 'vm' AND EXISTS (
               SELECT 1
               FROM (SELECT unnest(string_split(replace($env_tag_keys, ' ', ''), ',')) AS k) keys
               WHERE json_extract_string(r.tags, '$."' || keys.k || '"') IS NOT NULL
                 AND NOT list_contains(
                     string_split(lower(replace($production_values, ' ', '')), ','),
                     lower(json_extract_string(r.tags, '$."' || keys.k || '"'))))))
),
hourly AS (
    SELECT m.resource_id,
           date_trunc('hour', m.ts) + to_hours(CAST($utc_offset_hours AS INTEGER)) AS local_ts,
           avg(m.value) FILTER (WHERE m.metric = 'cpu_util_pct') AS cpu,
           avg(m.value) FILTER (WHERE m.metric = 'gpu_util_pct') AS gpu
    FROM metrics m
    JOIN candidates c ON c.resource_id = m.resource_id
    WHERE m.period_s = 3600 AND m.stat = 'Average'
      AND m.metric IN ('cpu_util_pct', 'gpu_util_pct')
      AND m.ts >= $as_of - to_days(CAST($lookback_days AS INTEGER)) AND m.ts < $as_of
    GROUP BY ALL
),
hours AS (
    SELECT resource_id, local_ts,
           isodow(local_ts) AS dow, hour(local_ts) AS hod,
           coalesce(cpu > $busy_cpu_pct, false) OR coalesce(gpu > $busy_gpu_pct, false) AS busy,
           isodow(local_ts) <= 5 AND hour(local_ts) >= $work_start_hour
               AND hour(local_ts) < $work_end_hour AS office
    FROM hourly
),
slots AS (
    -- each hour of the week: busy in any week observed, idle in all of them, or unseen
    SELECT resource_id, dow, hod, bool_or(busy) AS busy FROM hours GROUP BY ALL
),
per AS (
    SELECT resource_id,
           count(*) AS hours_observed,
           count(*) FILTER (WHERE office AND busy) AS office_busy_hours,
           count(*) FILTER (WHERE NOT office) AS offhours_hours,
           count(*) FILTER (WHERE NOT office AND busy) AS offhours_busy_hours
    FROM hours GROUP BY resource_id
),
grid AS (
    SELECT ids.resource_id, d.dow, h.hod, s.busy,
           d.dow <= 5 AND h.hod >= $work_start_hour AND h.hod < $work_end_hour AS office
    FROM (SELECT DISTINCT resource_id FROM slots) ids
    CROSS JOIN range(1, 8) d(dow)
    CROSS JOIN range(0, 24) h(hod)
    LEFT JOIN slots s ON s.resource_id = ids.resource_id AND s.dow = d.dow AND s.hod = h.hod
),
days AS (
    SELECT resource_id, dow,
           ['Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat', 'Sun'][dow] AS day_name,
           string_agg(CASE WHEN busy IS NULL THEN ' ' WHEN busy THEN '#' ELSE '.' END, ''
                      ORDER BY hod) AS line,
           count(*) FILTER (WHERE NOT office AND busy = false) AS idle_offhours
    FROM grid GROUP BY resource_id, dow
),
pattern AS (
    SELECT resource_id, sum(idle_offhours) AS idle_slots,
           list(day_name || ' ' || line ORDER BY dow) AS week
    FROM days GROUP BY resource_id
)
SELECT c.resource_id,
       'Off-hours schedule: ' || coalesce(c.name, c.resource_id) || ' ('
           || coalesce(c.instance_type, '?') || ') works office hours and idles '
           || CAST(p.idle_slots AS INTEGER) || ' of the week''s 168 hours' AS title,
       'Stop it outside office hours on a schedule (instance scheduler, auto-shutdown, idle '
           || 'shutdown); tag it as production if it must stay up.' AS action,
       json_object('week', p.week,
                   'office_hours', $work_start_hour || ':00-' || $work_end_hour
                       || ':00 Mon-Fri, UTC' || CASE WHEN $utc_offset_hours >= 0 THEN '+'
                                                     ELSE '' END || $utc_offset_hours,
                   'idle_offhours_hours_per_week', p.idle_slots,
                   'share_of_week_pct', round(100.0 * p.idle_slots / 168, 2),
                   'hours_observed', x.hours_observed,
                   'office_busy_hours', x.office_busy_hours,
                   'offhours_busy_hours', x.offhours_busy_hours,
                   'environment', coalesce(json_extract_string(c.tags, '$.env'),
                                           json_extract_string(c.tags, '$.environment'),
                                           c.resource_type)) AS evidence,
       c.monthly_cost * p.idle_slots / 168 AS estimated_monthly_savings,
       CASE WHEN x.offhours_busy_hours = 0
                 AND x.hours_observed >= $lookback_days * 24 * 0.95 THEN 'high'
            ELSE 'medium' END AS confidence
FROM candidates c
JOIN per x ON x.resource_id = c.resource_id
JOIN pattern p ON p.resource_id = c.resource_id
WHERE x.hours_observed >= $lookback_days * 24 * $min_coverage_pct / 100
  AND x.office_busy_hours >= $min_busy_hours
  AND x.offhours_busy_hours <= x.offhours_hours * $max_offhours_busy_pct / 100
  AND p.idle_slots > 0
""",
)
