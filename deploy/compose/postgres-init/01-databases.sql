-- Run once by the postgres image on an empty data volume, as POSTGRES_USER
-- (bankrec), so bankrec owns both databases.
CREATE DATABASE bankrec_ledger;
CREATE DATABASE bankrec_reconciler;
