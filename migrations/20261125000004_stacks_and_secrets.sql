-- Flavors, stack components, stacks, each user's active stack, and the secrets vault.

-- Built-in flavors are written at every start from the code that defines them; custom
-- ones are registered by users. The schema is kept as `json` so its field order (the
-- order of the form) survives.
create table flavor (
    id uuid not null,
    component_type text not null,
    name text not null,
    description text not null default '',
    config_schema json not null,
    builtin boolean not null default false,
    created_by uuid,
    created_at timestamptz not null default now(),
    updated_at timestamptz not null default now(),
    constraint flavor_pkey primary key (id),
    constraint flavor_type_name_key unique (component_type, name),
    constraint flavor_created_by_fkey foreign key (created_by) references app_user (id) on delete set null,
    constraint flavor_type_check check (component_type in ('orchestrator', 'artifact_store',
        'container_registry', 'step_operator', 'model_deployer', 'experiment_tracker',
        'feature_store', 'alerter', 'annotator', 'image_builder'))
);

-- owner_id null: owned by the server (the default stack and its components), usable
-- by everyone, changed by server administrators only. team_id null: private.
create table stack_component (
    id uuid not null,
    name text not null,
    component_type text not null,
    flavor_id uuid not null,
    config jsonb not null default '{}',
    owner_id uuid,
    team_id uuid,
    created_at timestamptz not null default now(),
    updated_at timestamptz not null default now(),
    constraint stack_component_pkey primary key (id),
    constraint stack_component_flavor_fkey foreign key (flavor_id) references flavor (id) on delete restrict,
    constraint stack_component_owner_fkey foreign key (owner_id) references app_user (id) on delete cascade,
    constraint stack_component_team_fkey foreign key (team_id) references team (id) on delete set null
);
create unique index stack_component_name_key on stack_component (lower(name));
create index stack_component_type_name_idx on stack_component (component_type, lower(name));
create index stack_component_team_idx on stack_component (team_id);
create index stack_component_owner_idx on stack_component (owner_id);

create table stack (
    id uuid not null,
    name text not null,
    description text not null default '',
    is_default boolean not null default false,
    owner_id uuid,
    team_id uuid,
    created_at timestamptz not null default now(),
    updated_at timestamptz not null default now(),
    constraint stack_pkey primary key (id),
    constraint stack_owner_fkey foreign key (owner_id) references app_user (id) on delete cascade,
    constraint stack_team_fkey foreign key (team_id) references team (id) on delete set null
);
create unique index stack_name_key on stack (lower(name));
-- At most one default stack.
create unique index stack_default_key on stack (is_default) where is_default;
create index stack_team_idx on stack (team_id);
create index stack_owner_idx on stack (owner_id);

-- One component per type per stack; a used component cannot be deleted.
create table stack_slot (
    stack_id uuid not null,
    component_type text not null,
    component_id uuid not null,
    constraint stack_slot_pkey primary key (stack_id, component_type),
    constraint stack_slot_stack_fkey foreign key (stack_id) references stack (id) on delete cascade,
    constraint stack_slot_component_fkey foreign key (component_id) references stack_component (id) on delete restrict
);
create index stack_slot_component_idx on stack_slot (component_id);

-- The stack a user's runs go to; null means the default stack.
alter table app_user add column active_stack_id uuid;
alter table app_user add constraint app_user_active_stack_fkey
    foreign key (active_stack_id) references stack (id) on delete set null;

-- A secret's data key, AES-256-GCM-wrapped under master key `key_version`
-- (nonce || ciphertext+tag); each value is encrypted under the data key.
create table secret (
    id uuid not null,
    name text not null,
    owner_id uuid not null,
    team_id uuid,
    key_version integer not null,
    wrapped_key bytea not null,
    created_at timestamptz not null default now(),
    updated_at timestamptz not null default now(),
    constraint secret_pkey primary key (id),
    constraint secret_owner_fkey foreign key (owner_id) references app_user (id) on delete cascade,
    constraint secret_team_fkey foreign key (team_id) references team (id) on delete set null
);
create unique index secret_name_key on secret (lower(name));
create index secret_team_idx on secret (team_id);
create index secret_owner_idx on secret (owner_id);
create index secret_key_version_idx on secret (key_version);

create table secret_value (
    secret_id uuid not null,
    key text not null,
    -- nonce (12 bytes) || ciphertext || tag; the secret's id and the key are the AAD.
    sealed bytea not null,
    constraint secret_value_pkey primary key (secret_id, key),
    constraint secret_value_secret_fkey foreign key (secret_id) references secret (id) on delete cascade
);
