-- Teams, their members with roles, and invitation links.

create table team (
    id uuid not null,
    name text not null,
    display_name text not null default '',
    created_by uuid,
    created_at timestamptz not null default now(),
    updated_at timestamptz not null default now(),
    constraint team_pkey primary key (id),
    constraint team_created_by_fkey foreign key (created_by) references app_user (id) on delete set null
);
-- Team names are unique regardless of case; also serves listing by name.
create unique index team_name_key on team (lower(name));

create table team_member (
    team_id uuid not null,
    user_id uuid not null,
    role text not null,
    created_at timestamptz not null default now(),
    updated_at timestamptz not null default now(),
    constraint team_member_pkey primary key (team_id, user_id),
    constraint team_member_team_fkey foreign key (team_id) references team (id) on delete cascade,
    constraint team_member_user_fkey foreign key (user_id) references app_user (id) on delete cascade,
    constraint team_member_role_check check (role in ('admin', 'editor', 'viewer'))
);
create index team_member_user_idx on team_member (user_id);

create table invitation (
    id uuid not null,
    team_id uuid not null,
    role text not null,
    -- SHA-256 of the link's token; the token itself is shown once, when created.
    token_hash bytea not null,
    created_by uuid,
    created_at timestamptz not null default now(),
    expires_at timestamptz not null,
    accepted_at timestamptz,
    accepted_by uuid,
    revoked_at timestamptz,
    constraint invitation_pkey primary key (id),
    constraint invitation_team_fkey foreign key (team_id) references team (id) on delete cascade,
    constraint invitation_created_by_fkey foreign key (created_by) references app_user (id) on delete set null,
    constraint invitation_accepted_by_fkey foreign key (accepted_by) references app_user (id) on delete set null,
    constraint invitation_role_check check (role in ('admin', 'editor', 'viewer')),
    constraint invitation_token_hash_key unique (token_hash)
);
create index invitation_team_idx on invitation (team_id, created_at desc, id desc);
