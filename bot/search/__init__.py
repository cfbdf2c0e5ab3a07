"""search stage of the digestbot pipeline."""
