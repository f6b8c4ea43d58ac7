-- Pipelines and their immutable snapshots; runs, step runs, artifacts with lineage,
-- metadata and logs.

create table pipeline (
    id uuid not null,
    name text not null,
    description text not null default '',
    owner_id uuid not null,
    team_id uuid,
    latest_version integer not null default 0,
    created_at timestamptz not null default now(),
    updated_at timestamptz not null default now(),
    constraint pipeline_pkey primary key (id),
    constraint pipeline_owner_fkey foreign key (owner_id) references app_user (id) on delete restrict,
    constraint pipeline_team_fkey foreign key (team_id) references team (id) on delete set null
);
create unique index pipeline_name_key on pipeline (lower(name));
create index pipeline_team_idx on pipeline (team_id);
create index pipeline_owner_idx on pipeline (owner_id);

-- The spec is kept as `json` so the order of its parameters (the Run form's order)
-- survives.
create table snapshot (
    id uuid not null,
    pipeline_id uuid not null,
    version integer not null,
    content_hash text not null,
    spec json not null,
    parameter_schema json not null,
    entrypoint jsonb not null,
    created_by uuid,
    created_at timestamptz not null default now(),
    constraint snapshot_pkey primary key (id),
    constraint snapshot_pipeline_fkey foreign key (pipeline_id) references pipeline (id) on delete cascade,
    constraint snapshot_created_by_fkey foreign key (created_by) references app_user (id) on delete set null,
    constraint snapshot_version_key unique (pipeline_id, version),
    constraint snapshot_hash_key unique (pipeline_id, content_hash)
);

-- A run keeps its stack's name so history reads the same after the stack is gone.
-- team_id is the pipeline's team when the run was created (unsharing never hides
-- history). token_hash is null once the run has ended (the token is revoked).
create table pipeline_run (
    id uuid not null,
    name text not null,
    pipeline_id uuid not null,
    snapshot_id uuid not null,
    stack_id uuid,
    stack_name text not null,
    status text not null,
    status_reason text,
    trigger text not null,
    author_id uuid,
    team_id uuid,
    tags text[] not null default '{}',
    parameters jsonb not null default '{}',
    token_hash bytea,
    created_at timestamptz not null default now(),
    started_at timestamptz,
    finished_at timestamptz,
    heartbeat_at timestamptz,
    updated_at timestamptz not null default now(),
    constraint pipeline_run_pkey primary key (id),
    constraint pipeline_run_pipeline_fkey foreign key (pipeline_id) references pipeline (id) on delete restrict,
    constraint pipeline_run_snapshot_fkey foreign key (snapshot_id) references snapshot (id) on delete restrict,
    constraint pipeline_run_stack_fkey foreign key (stack_id) references stack (id) on delete set null,
    constraint pipeline_run_author_fkey foreign key (author_id) references app_user (id) on delete set null,
    constraint pipeline_run_team_fkey foreign key (team_id) references team (id) on delete set null,
    constraint pipeline_run_status_check check (status in ('queued', 'initializing', 'provisioning',
        'running', 'retrying', 'stopping', 'completed', 'failed', 'cached', 'stopped', 'skipped')),
    constraint pipeline_run_trigger_check check (trigger in ('cli', 'sdk', 'dashboard', 'api', 'schedule'))
);
create unique index pipeline_run_name_key on pipeline_run (lower(name));
create index pipeline_run_created_idx on pipeline_run (created_at desc, id desc);
create index pipeline_run_pipeline_idx on pipeline_run (pipeline_id, created_at desc, id desc);
create index pipeline_run_status_idx on pipeline_run (status, created_at desc, id desc);
create index pipeline_run_tags_idx on pipeline_run using gin (tags);
create index pipeline_run_team_idx on pipeline_run (team_id);
create index pipeline_run_author_idx on pipeline_run (author_id);
-- The reaper's scan: only unfinished runs.
create index pipeline_run_unfinished_idx on pipeline_run (heartbeat_at)
    where status not in ('completed', 'failed', 'cached', 'stopped', 'skipped');

create table step_run (
    id uuid not null,
    run_id uuid not null,
    pipeline_id uuid not null,
    name text not null,
    position integer not null,
    status text not null,
    status_reason text,
    attempt integer not null default 0,
    max_attempts integer not null default 1,
    exit_code integer,
    code_hash text,
    cache_key text,
    cached_from uuid,
    upstream text[] not null default '{}',
    started_at timestamptz,
    finished_at timestamptz,
    heartbeat_at timestamptz,
    updated_at timestamptz not null default now(),
    constraint step_run_pkey primary key (id),
    constraint step_run_run_fkey foreign key (run_id) references pipeline_run (id) on delete cascade,
    constraint step_run_cached_from_fkey foreign key (cached_from) references step_run (id) on delete set null,
    constraint step_run_run_name_key unique (run_id, name),
    constraint step_run_status_check check (status in ('queued', 'initializing', 'provisioning',
        'running', 'retrying', 'stopping', 'completed', 'failed', 'cached', 'stopped', 'skipped'))
);
create index step_run_position_idx on step_run (run_id, position);
-- The cache lookup: the newest completed step run of a pipeline with a key.
create index step_run_cache_idx on step_run (pipeline_id, cache_key, finished_at desc)
    where status = 'completed';
create index step_run_cached_from_idx on step_run (cached_from);
create index step_run_unfinished_idx on step_run (heartbeat_at)
    where status in ('running', 'retrying', 'stopping');

create table artifact (
    id uuid not null,
    name text not null,
    pipeline_id uuid not null,
    latest_version integer not null default 0,
    created_at timestamptz not null default now(),
    updated_at timestamptz not null default now(),
    constraint artifact_pkey primary key (id),
    constraint artifact_pipeline_fkey foreign key (pipeline_id) references pipeline (id) on delete cascade,
    constraint artifact_name_key unique (name)
);
create index artifact_pipeline_idx on artifact (pipeline_id, name);

-- `missing`: the store no longer holds it (seen by a runtime); never offered as a
-- cache hit again.
create table artifact_version (
    id uuid not null,
    artifact_id uuid not null,
    version integer not null,
    uri text not null,
    data_type text not null,
    materializer text not null,
    content_hash text not null,
    size bigint not null,
    producer_step_run_id uuid,
    run_id uuid,
    missing boolean not null default false,
    created_at timestamptz not null default now(),
    constraint artifact_version_pkey primary key (id),
    constraint artifact_version_artifact_fkey foreign key (artifact_id) references artifact (id) on delete cascade,
    constraint artifact_version_producer_fkey foreign key (producer_step_run_id) references step_run (id) on delete set null,
    constraint artifact_version_run_fkey foreign key (run_id) references pipeline_run (id) on delete set null,
    constraint artifact_version_key unique (artifact_id, version)
);
create index artifact_version_producer_idx on artifact_version (producer_step_run_id);

create table step_run_input (
    step_run_id uuid not null,
    name text not null,
    artifact_version_id uuid not null,
    constraint step_run_input_pkey primary key (step_run_id, name),
    constraint step_run_input_step_fkey foreign key (step_run_id) references step_run (id) on delete cascade,
    constraint step_run_input_version_fkey foreign key (artifact_version_id) references artifact_version (id) on delete cascade
);
create index step_run_input_version_idx on step_run_input (artifact_version_id);

create table step_run_output (
    step_run_id uuid not null,
    name text not null,
    artifact_version_id uuid not null,
    constraint step_run_output_pkey primary key (step_run_id, name),
    constraint step_run_output_step_fkey foreign key (step_run_id) references step_run (id) on delete cascade,
    constraint step_run_output_version_fkey foreign key (artifact_version_id) references artifact_version (id) on delete cascade
);
create index step_run_output_version_idx on step_run_output (artifact_version_id);

create table run_metadata (
    id bigint generated always as identity,
    run_id uuid not null,
    step_run_id uuid,
    key text not null,
    value jsonb not null,
    created_at timestamptz not null default now(),
    constraint run_metadata_pkey primary key (id),
    constraint run_metadata_run_fkey foreign key (run_id) references pipeline_run (id) on delete cascade,
    constraint run_metadata_step_fkey foreign key (step_run_id) references step_run (id) on delete cascade
);
create index run_metadata_run_idx on run_metadata (run_id, id);
create index run_metadata_step_idx on run_metadata (step_run_id);

-- One row per batch a runtime sent: `lines` is a JSON array of {s: stream, t: time,
-- l: text}. Reading follows the id (the cursor).
create table log_chunk (
    id bigint generated always as identity,
    run_id uuid not null,
    step_name text,
    attempt integer not null default 1,
    lines jsonb not null,
    line_count integer not null,
    created_at timestamptz not null default now(),
    constraint log_chunk_pkey primary key (id),
    constraint log_chunk_run_fkey foreign key (run_id) references pipeline_run (id) on delete cascade
);
create index log_chunk_run_idx on log_chunk (run_id, id);
create index log_chunk_run_step_idx on log_chunk (run_id, step_name, id);
