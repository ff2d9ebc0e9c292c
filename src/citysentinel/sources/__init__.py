"""Sources: video files and streams (text and sensor sources come with their issues)."""
