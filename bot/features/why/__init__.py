"""`/why`: what happened to one item in each channel that follows its feed."""
