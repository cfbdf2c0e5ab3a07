"""Console mode: the bot without Discord. The terminal is the one channel; commands are typed."""
