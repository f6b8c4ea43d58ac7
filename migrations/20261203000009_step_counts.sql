-- Step runs per status, for the runs list.
--
-- A live run's counts are counted when asked; this index lets that count read only the
-- index (a run of 5,000 steps costs about half a millisecond instead of a sort).
create index step_run_status_idx on step_run (run_id, status);

-- A finished run's step runs no longer change (its token is revoked, its unfinished
-- steps ended in the same transaction), so its counts are kept with it when it ends:
-- `{"completed": 9, "failed": 1}`; null while the run is live.
alter table pipeline_run add column step_counts jsonb;

update pipeline_run r
   set step_counts = coalesce((select jsonb_object_agg(c.status, c.n)
                                 from (select status, count(*) as n from step_run
                                        where run_id = r.id group by status) c),
                              '{}'::jsonb)
 where r.finished_at is not null;
