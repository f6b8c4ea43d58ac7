-- The model registry (issue 9, DESIGN §3): models, their numbered versions with a stage,
-- aliases that move between versions, the history of stage changes, metadata, and the
-- links of versions to the runs and artifact versions that made them.

create table model (
    id uuid not null,
    name text not null,
    description text not null default '',
    license text not null default '',
    tags text[] not null default '{}',
    use_cases text not null default '',
    limitations text not null default '',
    owner_id uuid not null,
    team_id uuid,
    latest_number integer not null default 0,
    created_at timestamptz not null default now(),
    updated_at timestamptz not null default now(),
    constraint model_pkey primary key (id),
    constraint model_owner_fkey foreign key (owner_id) references app_user (id) on delete restrict,
    constraint model_team_fkey foreign key (team_id) references team (id) on delete set null
);
create unique index model_name_key on model (lower(name));
create index model_team_idx on model (team_id);
create index model_owner_idx on model (owner_id);

create table model_version (
    id uuid not null,
    model_id uuid not null,
    number integer not null,
    name text,
    description text not null default '',
    tags text[] not null default '{}',
    stage text not null default 'none',
    created_by uuid,
    created_at timestamptz not null default now(),
    updated_at timestamptz not null default now(),
    constraint model_version_pkey primary key (id),
    constraint model_version_model_fkey foreign key (model_id) references model (id) on delete cascade,
    constraint model_version_author_fkey foreign key (created_by) references app_user (id) on delete set null,
    constraint model_version_number_key unique (model_id, number),
    constraint model_version_stage_check check (stage in ('none', 'staging', 'production', 'archived'))
);
create unique index model_version_name_key on model_version (model_id, lower(name)) where name is not null;
-- The rule "at most one production version per model", kept by the database even when
-- two promotions race (the service also locks the model row, so neither fails).
create unique index model_version_production_key on model_version (model_id) where stage = 'production';

create table model_version_stage_event (
    id bigint generated always as identity,
    model_version_id uuid not null,
    from_stage text not null,
    to_stage text not null,
    actor_id uuid,
    actor_name text not null,
    reason text not null default '',
    created_at timestamptz not null default now(),
    constraint model_version_stage_event_pkey primary key (id),
    constraint model_version_stage_event_version_fkey foreign key (model_version_id) references model_version (id) on delete cascade,
    constraint model_version_stage_event_actor_fkey foreign key (actor_id) references app_user (id) on delete set null
);
create index model_version_stage_event_version_idx on model_version_stage_event (model_version_id, id);

create table model_alias (
    model_id uuid not null,
    alias text not null,
    model_version_id uuid not null,
    updated_by uuid,
    updated_at timestamptz not null default now(),
    constraint model_alias_pkey primary key (model_id, alias),
    constraint model_alias_model_fkey foreign key (model_id) references model (id) on delete cascade,
    constraint model_alias_version_fkey foreign key (model_version_id) references model_version (id) on delete cascade,
    constraint model_alias_author_fkey foreign key (updated_by) references app_user (id) on delete set null
);
create index model_alias_version_idx on model_alias (model_version_id);

-- The newest value of each key (a step logging `accuracy` twice keeps the last). The
-- step run that logged it lets a later cache hit of that step carry the value over to
-- its own run's version.
create table model_version_metadata (
    model_version_id uuid not null,
    key text not null,
    value jsonb not null,
    run_id uuid,
    step_run_id uuid,
    updated_at timestamptz not null default now(),
    constraint model_version_metadata_pkey primary key (model_version_id, key),
    constraint model_version_metadata_version_fkey foreign key (model_version_id) references model_version (id) on delete cascade,
    constraint model_version_metadata_run_fkey foreign key (run_id) references pipeline_run (id) on delete set null,
    constraint model_version_metadata_step_fkey foreign key (step_run_id) references step_run (id) on delete set null
);
create index model_version_metadata_step_idx on model_version_metadata (step_run_id);

create table model_version_run (
    model_version_id uuid not null,
    run_id uuid not null,
    created_at timestamptz not null default now(),
    constraint model_version_run_pkey primary key (model_version_id, run_id),
    constraint model_version_run_version_fkey foreign key (model_version_id) references model_version (id) on delete cascade,
    constraint model_version_run_run_fkey foreign key (run_id) references pipeline_run (id) on delete cascade
);
-- A run makes or reuses one version: finding it from the run is the hot path.
create unique index model_version_run_run_key on model_version_run (run_id);

create table model_version_artifact (
    model_version_id uuid not null,
    artifact_version_id uuid not null,
    kind text not null,
    created_at timestamptz not null default now(),
    constraint model_version_artifact_pkey primary key (model_version_id, artifact_version_id),
    constraint model_version_artifact_version_fkey foreign key (model_version_id) references model_version (id) on delete cascade,
    constraint model_version_artifact_artifact_fkey foreign key (artifact_version_id) references artifact_version (id) on delete cascade,
    constraint model_version_artifact_kind_check check (kind in ('model', 'data', 'deployment'))
);
create index model_version_artifact_artifact_idx on model_version_artifact (artifact_version_id);
