-- Users, first-start setup tokens, API keys, sign-in throttling and the audit log.

create table app_user (
    id uuid not null,
    name text not null,
    display_name text not null default '',
    email text,
    -- argon2id PHC string; null for service accounts, which hold API keys only.
    password_hash text,
    is_admin boolean not null default false,
    is_service_account boolean not null default false,
    active boolean not null default true,
    -- Bumped to end every session of the user at once (password change, deactivation).
    session_epoch integer not null default 0,
    created_at timestamptz not null default now(),
    updated_at timestamptz not null default now(),
    constraint app_user_pkey primary key (id),
    constraint app_user_service_account_has_no_password
        check (not is_service_account or password_hash is null)
);
-- Login names are unique regardless of case; also serves listing by name.
create unique index app_user_name_key on app_user (lower(name));

-- One-time links printed at first start; any of them creates the first admin while no
-- user exists.
create table setup_token (
    token_hash bytea not null,
    created_at timestamptz not null default now(),
    constraint setup_token_pkey primary key (token_hash)
);

create table api_key (
    id uuid not null,
    user_id uuid not null,
    name text not null,
    -- Shown in lists so people can tell keys apart; the key begins with it.
    prefix text not null,
    -- SHA-256 of the whole key: keys are 32 random bytes, so a fast hash is enough.
    secret_hash bytea not null,
    created_at timestamptz not null default now(),
    expires_at timestamptz,
    last_used_at timestamptz,
    revoked_at timestamptz,
    constraint api_key_pkey primary key (id),
    constraint api_key_user_fkey foreign key (user_id) references app_user (id) on delete cascade,
    constraint api_key_prefix_key unique (prefix),
    constraint api_key_secret_hash_key unique (secret_hash)
);
create index api_key_user_idx on api_key (user_id, created_at desc, id desc);

-- Failed sign-ins of the last 15 minutes, for throttling by account and by client.
create table sign_in_failure (
    id bigint generated always as identity,
    account text not null,
    client_addr text not null,
    at timestamptz not null default now(),
    constraint sign_in_failure_pkey primary key (id)
);
create index sign_in_failure_account_idx on sign_in_failure (account, at);
create index sign_in_failure_client_idx on sign_in_failure (client_addr, at);

create table audit_event (
    id bigint generated always as identity,
    at timestamptz not null default now(),
    actor_id uuid,
    -- Kept as text so the log stays readable whatever happens to the account later.
    actor_name text,
    action text not null,
    target_kind text,
    target_id text,
    target_name text,
    client_addr text,
    detail jsonb not null default '{}',
    constraint audit_event_pkey primary key (id),
    constraint audit_event_actor_fkey foreign key (actor_id) references app_user (id) on delete set null
);
create index audit_event_at_idx on audit_event (at desc, id desc);
create index audit_event_action_idx on audit_event (action, at desc, id desc);
