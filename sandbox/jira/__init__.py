"""taskhub."""
