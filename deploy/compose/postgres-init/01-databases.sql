-- Run once by the postgres image on an empty data volume, as POSTGRES_USER
-- (bankrec), so bankrec owns every database.
CREATE DATABASE bankrec_ingest;
CREATE DATABASE bankrec_ledger;
CREATE DATABASE bankrec_matcher;
CREATE DATABASE bankrec_reconciler;
