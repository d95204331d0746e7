-- Runs once, when the `db` volume is first initialised (docker-entrypoint-initdb.d):
-- the MLflow tracking server keeps its runs and model registry in its own database
-- on the same PostgreSQL, owned by POSTGRES_USER (the role running this script).
CREATE DATABASE mlflow;
