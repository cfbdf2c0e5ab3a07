"""text stage of the digestbot pipeline."""
