"""ingest stage of the digestbot pipeline."""
