"""store stage of the digestbot pipeline."""
