"""deliver stage of the digestbot pipeline."""
