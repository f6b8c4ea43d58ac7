-- The installation itself: one row, written at first start, never changed.
-- Later migrations hang server-wide settings off this identity.
create table server_instance (
    singleton boolean not null default true,
    instance_id uuid not null,
    created_at timestamptz not null default now(),
    constraint server_instance_pkey primary key (singleton),
    constraint server_instance_singleton check (singleton)
);
