-- Live updates of the run page (DESIGN §4): each change of a run, of a step's state or
-- a new batch of log lines notifies `weir_run_events` with `<run id> <kind>`; every
-- server replica listens and feeds the event streams of the runs its clients watch.
-- Heartbeats change nothing a page shows, so they notify nothing.

create function weir_notify_run_event() returns trigger
language plpgsql as $$
begin
    if tg_table_name = 'pipeline_run' then
        perform pg_notify('weir_run_events', new.id::text || ' run');
    elsif tg_table_name = 'step_run' then
        perform pg_notify('weir_run_events', new.run_id::text || ' step');
    else
        perform pg_notify('weir_run_events', new.run_id::text || ' log');
    end if;
    return null;
end
$$;

create trigger pipeline_run_event after update on pipeline_run
    for each row
    when (old.status is distinct from new.status
          or old.started_at is distinct from new.started_at
          or old.finished_at is distinct from new.finished_at)
    execute function weir_notify_run_event();

create trigger step_run_event after update on step_run
    for each row
    when (old.status is distinct from new.status
          or old.attempt is distinct from new.attempt
          or old.finished_at is distinct from new.finished_at)
    execute function weir_notify_run_event();

create trigger log_chunk_event after insert on log_chunk
    for each row
    execute function weir_notify_run_event();
