"""The DICOM code that needs no database: reading and checking files (`header`, `raw_header`),
de-identification, the worker processes' file preparation (`files`), multipart bodies and rendering.
Nothing here imports Django or the ORM (the import contract in pyproject.toml holds it to that)."""
