-- The Rust SDK: views stored beside artifact versions (a JSON preview, a CSV table,
-- markdown, a PNG), and metadata logged on an artifact version itself.

-- `[{"kind": "json|csv|markdown|png|text", "uri": …, "size": …}]`, at most 10.
alter table artifact_version add column visualizations jsonb not null default '[]';

-- Metadata on an artifact version (run_id and step_run_id are its producer's); rows
-- without it belong to their run or step.
alter table run_metadata add column artifact_version_id uuid;
alter table run_metadata add constraint run_metadata_artifact_version_fkey
    foreign key (artifact_version_id) references artifact_version (id) on delete cascade;
create index run_metadata_artifact_version_idx on run_metadata (artifact_version_id)
    where artifact_version_id is not null;
